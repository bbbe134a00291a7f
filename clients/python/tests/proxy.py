"""A TCP proxy between a client and cairnd that the tests can break, stall and inspect."""

from __future__ import annotations

import socket
import threading
import time


class Proxy:
    """Forwards 127.0.0.1:<port> to a target, one thread per direction per connection.

    - ``break_all()`` closes every open connection (the client sees the connection break).
    - ``drop_on(marker)``: the next request line containing ``marker`` is not forwarded;
      instead that connection is closed (a request lost in flight).
    - ``cut_after(marker)``: the next request line containing ``marker`` is forwarded, then the
      client's connection is closed before the answer comes (the server still answers into the
      proxy, which drops it): a request that was applied, its answer lost.
    - ``hold_responses(until_requests=n)``: nothing from the server is forwarded until ``n``
      more request lines have arrived from the client (``release()`` ends it at once).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"cairn://127.0.0.1:{self.port}"
        self._lock = threading.Condition()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._drop_marker: bytes | None = None
        self._cut_marker: bytes | None = None
        self._cut: set[int] = set()
        self.cuts = 0
        self.requests = 0
        self._release_at: int | None = None
        self._gate = threading.Event()
        self._gate.set()
        self.accepted = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            for sock in (c, s):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._pairs.append((c, s))
                self.accepted += 1
                self._lock.notify_all()
            threading.Thread(target=self._upstream, args=(c, s), daemon=True).start()
            threading.Thread(target=self._downstream, args=(c, s), daemon=True).start()

    def _upstream(self, c: socket.socket, s: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    with self._lock:
                        marker = self._drop_marker
                        cut = self._cut_marker is not None and self._cut_marker in line
                        if cut:
                            self._cut_marker = None
                            self._cut.add(id(s))
                            self.cuts += 1
                        if marker is not None and marker in line:
                            self._drop_marker = None
                            drop = True
                        else:
                            drop = False
                            self.requests += 1
                            if self._release_at is not None and self.requests >= self._release_at:
                                self._release_at = None
                                self._gate.set()
                        self._lock.notify_all()
                    if drop:
                        self._close_pair(c, s)
                        return
                    s.sendall(line + b"\n")
                    if cut:
                        # The server has the request; the client loses the answer.
                        try:
                            c.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
        except OSError:
            pass
        self._close_pair(c, s)

    def _downstream(self, c: socket.socket, s: socket.socket) -> None:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                self._gate.wait()
                with self._lock:
                    cut = id(s) in self._cut
                if cut:
                    break  # the answer to the cut request: dropped
                c.sendall(chunk)
        except OSError:
            pass
        self._close_pair(c, s)

    def _close_pair(self, c: socket.socket, s: socket.socket) -> None:
        for sock in (c, s):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        with self._lock:
            if (c, s) in self._pairs:
                self._pairs.remove((c, s))

    def break_all(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
        for c, s in pairs:
            self._close_pair(c, s)

    def cut_after(self, marker: bytes) -> None:
        with self._lock:
            self._cut_marker = marker

    def drop_on(self, marker: bytes) -> None:
        with self._lock:
            self._drop_marker = marker

    def hold_responses(self, until_requests: int) -> None:
        with self._lock:
            self._gate.clear()
            self._release_at = self.requests + until_requests

    def release(self) -> None:
        with self._lock:
            self._release_at = None
            self._gate.set()

    def wait_requests(self, n: int, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.requests < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def close(self) -> None:
        self._closed = True
        self.release()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        self.break_all()
