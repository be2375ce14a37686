#!/usr/bin/env bash
# Stop what up.sh started (by pid file; external servers from *_URL are never touched).
# Idempotent. `down.sh && rm -rf var` gives a clean state.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_rabbit() {
  if own_rabbit; then
    # Given the pid file, `stop` returns only once the node process has exited. A wedged node
    # (e.g. Mnesia overloaded by thousands of leftover queues) can make it wait forever: bound it.
    timeout 60 rabbitmqctl -q stop "$RABBITMQ_PID_FILE" >/dev/null || stop_pid rabbitmq "$RABBITMQ_PID_FILE"
    log "stopped rabbitmq"
  fi
  rm -f "$RABBITMQ_PID_FILE"
  # epmd outlives the node; it refuses to die while another node is still registered.
  epmd -kill >/dev/null 2>&1 || true
}

main() {
  stop_pid mongo-front "$MONGO_PID"
  stop_pid redis "$REDIS_PID"
  stop_rabbit
}

main "$@"
