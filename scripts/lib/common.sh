# Shared set-up for scripts/run, scripts/test and scripts/bench. Source it; do not run it.

# Installs what Cairn needs and is missing: libhiredis-dev (headers + library), openssl and
# redis-server (with redis-cli). Runs `apt-get update` at most once.
cairn_install_dependencies() {
  local missing=()
  [ -f /usr/include/hiredis/hiredis.h ] || missing+=(libhiredis-dev)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  # The TLS tests and `scripts/run --tls` make throw-away certificates with it.
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "cairn: need root (or sudo) to install: ${missing[*]}" >&2
      return 1
    fi
  fi
  echo "cairn: installing ${missing[*]} ..." >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Installs Python 3 with venv when missing (for clients/python's tests).
cairn_install_python() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "cairn: installing python3 and python3-venv ..." >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
}

# Prints a TCP port on 127.0.0.1 that nothing listens on right now. It is chosen below the
# kernel's ephemeral range (net.ipv4.ip_local_port_range), from which the kernel hands out ports
# on its own (a bind to port 0, an outgoing connection): so those never take it before it is used.
# Another script choosing by number still may; cairn_start_redis with port 0 tries again then.
cairn_free_port() {
  local low=32768 first=10000 last port
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range || low=32768
  fi
  last=$((low - 1))
  if [ "$last" -lt $((first + 1000)) ]; then first=20000; last=59999; fi  # an unusual range: as before
  for _ in $(seq 1 200); do
    port=$((first + (RANDOM * 32768 + RANDOM) % (last - first + 1)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "cairn: no free port found" >&2
  return 1
}

# cairn_start_redis DIR PORT [extra redis-server arguments...]
# Starts a private redis-server on 127.0.0.1:PORT with its data in DIR and waits until it
# answers PING — as itself: the process_id in INFO must be the one just started, or else another
# redis-server took the port meanwhile. PORT 0 picks a free port and, when redis-server cannot
# have it after all, tries again on another (5 times). Sets CAIRN_REDIS_PID and CAIRN_REDIS_PORT.
cairn_start_redis() {
  local dir="$1" port="$2" tries=1 try_port
  shift 2
  if [ "$port" = 0 ]; then tries=5; fi
  mkdir -p "$dir"
  for _ in $(seq 1 "$tries"); do
    try_port="$port"
    if [ "$port" = 0 ]; then try_port=$(cairn_free_port) || return 1; fi
    redis-server --port "$try_port" --bind 127.0.0.1 --dir "$dir" --daemonize no --save "" \
      --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" "$@" </dev/null >/dev/null 2>&1 &
    CAIRN_REDIS_PID=$!
    if _cairn_wait_for_own_redis "$try_port" "$CAIRN_REDIS_PID"; then
      CAIRN_REDIS_PORT="$try_port"
      return 0
    fi
    kill -9 "$CAIRN_REDIS_PID" 2>/dev/null || true
    wait "$CAIRN_REDIS_PID" 2>/dev/null || true
    echo "cairn: redis-server could not start on port $try_port" >&2
  done
  CAIRN_REDIS_PID=""
  echo "cairn: redis-server did not start; its log:" >&2
  tail -20 "$dir/redis.log" >&2 || true
  return 1
}

# _cairn_wait_for_own_redis PORT PID: waits (10 s at most) until the redis-server with PID
# answers on PORT. Fails at once when it exited (its port was taken) or another one answers.
_cairn_wait_for_own_redis() {
  local port="$1" pid="$2" answer
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
      answer=$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')
      [ "$answer" = "$pid" ]
      return
    fi
    sleep 0.05
  done
  return 1
}

# cairn_stop_redis PORT PID: SHUTDOWN NOSAVE, then SIGKILL if it is still alive. Only while PID
# runs: once it is gone, whatever answers on PORT is someone else's.
cairn_stop_redis() {
  local port="$1" pid="$2"
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
}

# cairn_flag_value NAME ARGS...: the value of the last --NAME VALUE or --NAME=VALUE in ARGS
# (cairnd's flags win over its environment, and ArgumentParser keeps the last one); prints
# nothing when the flag is absent.
cairn_flag_value() {
  local name="--$1" value="" found=""
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      "$name") if [ $# -ge 2 ]; then value="$2"; found=1; shift; fi ;;
      "$name"=*) value="${1#*=}"; found=1 ;;
      --) break ;;
    esac
    shift
  done
  [ -n "$found" ] && printf '%s\n' "$value"
  return 0
}

# cairn_connect_address HOST:PORT: where a client on this host reaches a server listening on
# HOST:PORT (all interfaces, ":PORT", "0.0.0.0" or "[::]", are reached on loopback).
cairn_connect_address() {
  local address="$1" host port
  port="${address##*:}"
  host="${address%:*}"
  case "$host" in
    ""|0.0.0.0|"[::]"|"*") host=127.0.0.1 ;;
  esac
  printf '%s:%s\n' "$host" "$port"
}
