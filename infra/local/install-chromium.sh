#!/usr/bin/env bash
# Installs Debian's chromium for the web pages' browser tests (services/web/tests/test_browser.py):
# Playwright drives /usr/bin/chromium; it cannot download a browser of its own here.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
