#!/usr/bin/env bash
# Makes sure validate.py can render the k8s kustomizations: kustomize or kubectl on PATH, else
# kustomize built from the Go module proxy into ~/go/bin (about 30 s; validate.py looks there).
set -euo pipefail

if command -v kustomize >/dev/null 2>&1; then
  kustomize version
  exit 0
fi
if command -v kubectl >/dev/null 2>&1; then
  # sed reads all of it: `head` could end kubectl with SIGPIPE (exit 141 under pipefail).
  kubectl version --client 2>/dev/null | sed -n 1p
  exit 0
fi
# v5.6.0: the newest release that builds with Go 1.26 (later ones need Go 1.27).
GO=$(command -v go || echo /usr/local/go/bin/go)
GOBIN="$HOME/go/bin" "$GO" install sigs.k8s.io/kustomize/kustomize/v5@v5.6.0
echo "kustomize installed in $HOME/go/bin"
