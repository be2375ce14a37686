#!/usr/bin/env bash
# Simulate RabbitMQ outages for tests of the local broker (not for an external RABBITMQ_URL).
#   broker.sh stop|start  whole node: clients see connection refused; start takes ~5-10 s
#   broker.sh pause|resume  stop_app/start_app: listeners close, node stays up; a lot faster
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
  stop | pause | resume)
    own_rabbit || die "the RabbitMQ node on this machine is not this checkout's ($RABBIT_DIR): not touching it"
    ;;&
  stop)
    rabbitmqctl -q stop "$RABBITMQ_PID_FILE" >/dev/null
    rm -f "$RABBITMQ_PID_FILE"
    ;;
  start) "$LOCAL/up.sh" rabbitmq ;;
  pause) rabbitmqctl -q stop_app >/dev/null ;;
  resume)
    rabbitmqctl -q start_app >/dev/null
    wait_for rabbitmq 30 "$RABBITMQ_LOG_BASE/rabbit@$(hostname -s).log" port_open 127.0.0.1 "$RABBIT_PORT"
    ;;
  *) die "usage: $0 stop|start|pause|resume" ;;
esac
