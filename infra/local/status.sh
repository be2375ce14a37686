#!/usr/bin/env bash
# One line per local server: running or not, and where. Exit 1 if any is down.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down=0
report() { # NAME URL CMD...
  local name=$1 url=$2
  shift 2
  if "$@"; then printf '%-9s up    %s\n' "$name" "$url"; else printf '%-9s DOWN  %s\n' "$name" "$url"; down=1; fi
}

report mongodb "${MONGO_URI:-mongodb://$MONGO_ADDR/?directConnection=true}" \
  url_open "${MONGO_URI:-mongodb://$MONGO_ADDR}" 27017
report rabbitmq "${RABBITMQ_URL:-amqp://127.0.0.1:$RABBIT_PORT/}" \
  url_open "${RABBITMQ_URL:-amqp://127.0.0.1:$RABBIT_PORT}" 5672
report redis "${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}" \
  url_open "${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}" 6379
exit $down
