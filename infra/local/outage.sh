#!/usr/bin/env bash
# Outage drills on the local servers (not on external *_URL servers): stop or start one of them.
#   outage.sh mongodb|redis|rabbitmq stop|start
# Stopping takes a server away from every process on this machine: the chaos tests run it in a
# stack of their own (tests-chaos/README.md). rabbitmq is broker.sh stop|start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-}:${2:-} in
  mongodb:stop) stop_pid mongo-front "$MONGO_PID" ;;
  redis:stop) stop_pid redis "$REDIS_PID" ;;
  mongodb:start | redis:start) "$LOCAL/up.sh" "$1" ;;
  rabbitmq:stop | rabbitmq:start) "$LOCAL/broker.sh" "$2" ;;
  *) die "usage: $0 mongodb|redis|rabbitmq stop|start" ;;
esac
