# Shared set-up for scripts/run, scripts/test and scripts/bench. Source it; do not run it.

# Installs what Cairn needs and is missing: libhiredis-dev (headers + library) and
# redis-server (with redis-cli). Runs `apt-get update` at most once.
cairn_install_dependencies() {
  local missing=()
  [ -f /usr/include/hiredis/hiredis.h ] || missing+=(libhiredis-dev)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
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

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
cairn_free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "cairn: no free port found" >&2
  return 1
}

# cairn_start_redis DIR PORT [extra redis-server arguments...]
# Starts a private redis-server on 127.0.0.1:PORT with its data in DIR and waits for PING.
cairn_start_redis() {
  local dir="$1" port="$2"
  shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no --save "" \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" "$@" </dev/null >/dev/null 2>&1 &
  CAIRN_REDIS_PID=$!
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
    if ! kill -0 "$CAIRN_REDIS_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "cairn: redis-server did not start on port $port; its log:" >&2
  tail -20 "$dir/redis.log" >&2 || true
  return 1
}

# cairn_stop_redis PORT PID: SHUTDOWN NOSAVE, then SIGKILL if it is still alive.
cairn_stop_redis() {
  local port="$1" pid="$2"
  [ -n "$pid" ] || return 0
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
