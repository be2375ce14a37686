#!/usr/bin/env bash
# Makes sure kubeconform.py can validate the rendered manifests: kubeconform on PATH, else built
# from the Go module proxy into ~/go/bin (about 20 s; kubeconform.py looks there).
set -euo pipefail

if command -v kubeconform >/dev/null 2>&1 || [ -x "$HOME/go/bin/kubeconform" ]; then
  exit 0
fi
GOBIN="$HOME/go/bin" go install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
echo "kubeconform installed in $HOME/go/bin"
