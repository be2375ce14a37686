#!/usr/bin/env bash
# Start the local stack on 127.0.0.1: MongoDB (FerretDB behind mongo-front), RabbitMQ, Redis.
# Idempotent: servers already running are left alone. Installs what is missing.
# If MONGO_URI / RABBITMQ_URL / REDIS_URL is set, that server is not started, only checked.
# Usage: up.sh [mongodb] [rabbitmq] [redis]   (default: all three)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_missing() {
  local pkgs=()
  if wants rabbitmq && [[ -z ${RABBITMQ_URL:-} ]] && ! command -v rabbitmq-server >/dev/null; then
    pkgs+=(rabbitmq-server)
  fi
  if wants redis && [[ -z ${REDIS_URL:-} ]] && ! command -v redis-server >/dev/null; then
    pkgs+=(redis-server)
  fi
  if wants mongodb && [[ -z ${MONGO_URI:-} ]] && ! command -v patch >/dev/null; then
    pkgs+=(patch) # applies mongo-front/*.patch
  fi
  ((${#pkgs[@]})) || return 0
  log "installing ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

go_bin() { command -v go || echo /usr/local/go/bin/go; }

# Rebuild when the binary is missing or older than any of its sources (the patches included).
# FerretDB, its SQLite driver and its C library are patched (mongo-front/*.patch, e.g.
# ferretdb-pushdown.patch: `_id` lookups use the `_id_` index): the module is copied to the
# git-ignored .build/, its dependencies are vendored there, the patches are applied to the
# vendored copies in name order, and the binary is built from the vendor tree.
build_mongo_front() {
  local src=$LOCAL/mongo-front build=$LOCAL/.build/mongo-front go
  if [[ -x $MONGO_BIN ]] && [[ -z $(find "$src" -newer "$MONGO_BIN" -type f) ]]; then
    return 0
  fi
  log "building mongo-front (first build downloads modules and compiles FerretDB: ~1-2 min)"
  go=$(go_bin)
  rm -rf "$build"
  mkdir -p "$build" "$LOCAL/bin"
  cp "$src"/go.mod "$src"/go.sum "$src"/*.go "$build"/
  (cd "$build" && "$go" mod vendor)
  local p module
  for p in "$src"/*.patch; do # in name order
    # A patch applies to the vendored module its name starts with.
    case ${p##*/} in
      ferretdb-*) module=github.com/FerretDB/FerretDB ;;
      libc-*) module=modernc.org/libc ;;
      sqlite-*) module=modernc.org/sqlite ;;
      *) die "${p##*/}: name it after the module it patches (ferretdb-*, libc-*, sqlite-*)" ;;
    esac
    patch -p1 --forward --batch --no-backup-if-mismatch -d "$build/vendor/$module" <"$p" >&2 ||
      die "${p##*/} does not apply"
  done
  # ferretdb_no_postgresql: we only use the SQLite handler, so skip compiling pgx.
  (cd "$build" && CGO_ENABLED=0 "$go" build -mod=vendor -trimpath -tags ferretdb_no_postgresql \
    -o "$MONGO_BIN.tmp" .)
  mv "$MONGO_BIN.tmp" "$MONGO_BIN"
}

mongo_up() { pid_alive "$MONGO_PID" || return 2; port_open "$@"; }

start_mongo() {
  if [[ -n ${MONGO_URI:-} ]]; then
    url_open "$MONGO_URI" 27017 || die "MONGO_URI is set but does not answer: $MONGO_URI"
    log "mongodb   external  $MONGO_URI"
    return
  fi
  build_mongo_front
  local host=${MONGO_ADDR%:*} port=${MONGO_ADDR##*:}
  # A front started before the binary was rebuilt still runs the old patch: restart it (the
  # data stays in var/mongo/data).
  if pid_alive "$MONGO_PID" && [[ $MONGO_BIN -nt $MONGO_PID ]]; then
    log "mongo-front was rebuilt: restarting it"
    stop_pid mongo-front "$MONGO_PID"
  fi
  if ! pid_alive "$MONGO_PID"; then
    port_open "$host" "$port" && die "$MONGO_ADDR is taken by a process up.sh did not start"
    mkdir -p "$VAR/mongo/data" "$LOGS"
    setsid "$MONGO_BIN" -listen "$MONGO_ADDR" -socket "$MONGO_SOCK" -data "$VAR/mongo/data" \
      </dev/null >>"$LOGS/mongo-front.log" 2>&1 &
    echo $! >"$MONGO_PID"
  fi
  wait_for "mongo-front" 30 "$LOGS/mongo-front.log" mongo_up "$host" "$port"
  log "mongodb   FerretDB 1.24.2 (SQLite, var/mongo/data) via mongo-front  mongodb://$MONGO_ADDR/?directConnection=true"
}

redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

start_redis() {
  if [[ -n ${REDIS_URL:-} ]]; then
    [[ $(redis-cli -u "$REDIS_URL" ping 2>/dev/null) == PONG ]] || die "REDIS_URL is set but does not answer PING"
    log "redis     external  $REDIS_URL"
    return
  fi
  if ! pid_alive "$REDIS_PID"; then
    port_open 127.0.0.1 "$REDIS_PORT" && die "port $REDIS_PORT is taken by a process up.sh did not start"
    mkdir -p "$VAR/redis" "$LOGS"
    redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --pidfile "$REDIS_PID" --logfile "$LOGS/redis.log" --dir "$VAR/redis"
  fi
  wait_for "redis" 10 "$LOGS/redis.log" redis_ping
  log "redis     7 (no persistence)  redis://127.0.0.1:$REDIS_PORT/0"
}

write_rabbit_config() {
  mkdir -p "$RABBIT_DIR" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  cat >"$RABBITMQ_CONFIG_FILE" <<EOF
listeners.tcp.default = 127.0.0.1:$RABBIT_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = 15672
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = 15692
EOF
  echo '[rabbitmq_management,rabbitmq_prometheus].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  chown -R rabbitmq:rabbitmq "$RABBIT_DIR" "$RABBITMQ_LOG_BASE" # the wrapper runs the node as rabbitmq
}

# Launch the node without waiting (it takes ~5-10 s): the other servers start meanwhile.
launch_rabbit() {
  [[ -z ${RABBITMQ_URL:-} ]] || return 0
  pid_alive "$RABBITMQ_PID_FILE" && return 0
  port_open 127.0.0.1 "$RABBIT_PORT" && die "port $RABBIT_PORT is taken by a process up.sh did not start"
  rm -f "$RABBITMQ_PID_FILE" # left by a node that was killed: rabbit_up would read it as "died"
  write_rabbit_config
  rabbitmq-server -detached
}

# The node writes its pid file early in boot; before that only the port can tell.
rabbit_up() {
  [[ ! -s $RABBITMQ_PID_FILE ]] || pid_alive "$RABBITMQ_PID_FILE" || return 2
  port_open 127.0.0.1 "$RABBIT_PORT"
}

await_rabbit() {
  if [[ -n ${RABBITMQ_URL:-} ]]; then
    url_open "$RABBITMQ_URL" 5672 || die "RABBITMQ_URL is set but does not answer: $RABBITMQ_URL"
    log "rabbitmq  external  $RABBITMQ_URL"
    return
  fi
  if ! rabbit_running; then
    # await_startup fails at once if the node has not registered with epmd yet: poll the port first.
    wait_for "rabbitmq" 90 "$RABBITMQ_LOG_BASE/rabbit@$(hostname -s).log" rabbit_up
    rabbitmqctl -q await_startup --timeout 60 >/dev/null
  fi
  log "rabbitmq  3.10 (var/rabbitmq)  amqp://guest:guest@127.0.0.1:$RABBIT_PORT/  management http://127.0.0.1:15672  prometheus :15692"
}

wants() { [[ " $SERVERS " == *" $1 "* ]]; }

main() {
  SERVERS=${*:-mongodb rabbitmq redis}
  install_missing
  if wants rabbitmq; then launch_rabbit; fi
  if wants mongodb; then start_mongo; fi
  if wants redis; then start_redis; fi
  if wants rabbitmq; then await_rabbit; fi
}

main "$@"
