# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared paths and helpers for up.sh, down.sh, status.sh and broker.sh. Source, don't run.
# All runtime state lives under <repo>/var (git-ignored): `down.sh && rm -rf var` is a clean slate.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=$ROOT/infra/local
VAR=$ROOT/var
LOGS=$VAR/log

MONGO_ADDR=${MONGO_FRONT_LISTEN:-127.0.0.1:27017}
MONGO_BIN=$LOCAL/bin/mongo-front
MONGO_PID=$VAR/mongo/mongo-front.pid
MONGO_SOCK=$VAR/mongo/ferretdb.sock
# A Unix socket path must fit in 108 bytes; a deep checkout falls back to /tmp.
if ((${#MONGO_SOCK} > 100)); then
  MONGO_SOCK=/tmp/paycore-ferretdb-$(printf %s "$ROOT" | md5sum | cut -c1-8).sock
fi

REDIS_PORT=6379
REDIS_PID=$VAR/redis/redis.pid

RABBIT_PORT=5672
RABBIT_DIR=$VAR/rabbitmq
# Read by the rabbitmq-server/rabbitmqctl wrappers (they survive Debian's `su rabbitmq`).
export RABBITMQ_CONFIG_FILE=$RABBIT_DIR/rabbitmq.conf
export RABBITMQ_ENABLED_PLUGINS_FILE=$RABBIT_DIR/enabled_plugins
export RABBITMQ_MNESIA_BASE=$RABBIT_DIR/mnesia
export RABBITMQ_LOG_BASE=$LOGS/rabbitmq
export RABBITMQ_PID_FILE=$RABBIT_DIR/rabbitmq.pid
export ERL_EPMD_ADDRESS=127.0.0.1 # epmd on loopback only
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" # 25672

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() { timeout 1 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

# alive PID: true if the process runs. A zombie counts as dead: our daemons are reparented to
# PID 1, which may take a second to reap them.
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]
}

# pid_alive PIDFILE: true if the file names a live process.
pid_alive() { [[ -s $1 ]] && alive "$(cat "$1")"; }

# own_rabbit: true if the RabbitMQ node running is this checkout's. rabbitmqctl reaches a node by
# its name (rabbit@host), the same for every checkout on the machine, so without this check a
# second checkout's `stop` would stop the first one's node.
own_rabbit() {
  pid_alive "$RABBITMQ_PID_FILE" &&
    grep -qzxF "RABBITMQ_MNESIA_BASE=$RABBITMQ_MNESIA_BASE" "/proc/$(cat "$RABBITMQ_PID_FILE")/environ" 2>/dev/null
}

# wait_for WHAT BUDGET_SECONDS LOGFILE CMD...: poll CMD every 0.2 s until it succeeds.
# CMD returning 2 means "the process died": give up at once. On failure show the log tail.
wait_for() {
  local what=$1 budget=$2 logfile=$3 rc
  shift 3
  local deadline=$((SECONDS + budget))
  while true; do
    rc=0
    "$@" || rc=$?
    ((rc == 0)) && return 0
    if ((rc == 2)) || ((SECONDS >= deadline)); then
      if ((rc == 2)); then log "error: $what exited during start-up"; else log "error: $what not healthy after ${budget}s"; fi
      log "last lines of $logfile:"
      tail -n 30 "$logfile" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
}

# stop_pid NAME PIDFILE: SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 pid
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 75); do
    alive "$pid" || break
    sleep 0.2
  done
  if alive "$pid"; then kill -9 "$pid"; fi
  rm -f "$pidfile"
  log "stopped $name (pid $pid)"
}

# url_host_port URL DEFAULT_PORT: "host port" of the first host in a mongodb/amqp/redis URL.
url_host_port() {
  local rest=${1#*://}
  rest=${rest##*@}  # drop credentials
  rest=${rest%%[/?]*}
  rest=${rest%%,*}  # first host of a seed list
  if [[ $rest == *:* ]]; then echo "${rest%:*} ${rest##*:}"; else echo "$rest $2"; fi
}

# url_open URL DEFAULT_PORT: true if the URL's first host accepts TCP connections.
url_open() {
  local host port
  read -r host port <<<"$(url_host_port "$1" "$2")"
  port_open "$host" "$port"
}

rabbit_running() { pid_alive "$RABBITMQ_PID_FILE" && port_open 127.0.0.1 "$RABBIT_PORT"; }
