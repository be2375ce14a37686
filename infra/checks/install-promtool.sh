#!/usr/bin/env bash
# Installs promtool for infra/checks/validate.py, if it is not on PATH already.
# Debian's `prometheus` package ships it (about 12 s, ~20 MB download); only promtool is used:
# the package's prometheus daemon is not started (no systemd in CI; policy-rc.d forbids it).
# Fallback where apt is unavailable: `go install` from the Go module proxy (a few minutes).
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  promtool --version 2>&1 | sed -n 1p
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
  # Keep the package's service from starting where an init system would start it.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus \
    >/dev/null
  if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
elif command -v go >/dev/null 2>&1; then
  # v0.x module versions are Prometheus 2.x/3.x releases (v0.301.0 = Prometheus 3.1.0).
  GOBIN=/usr/local/bin $SUDO --preserve-env=GOBIN go install \
    github.com/prometheus/prometheus/cmd/promtool@v0.301.0
else
  echo "install-promtool: neither apt-get nor go is available" >&2
  exit 1
fi

promtool --version 2>&1 | sed -n 1p
