#!/usr/bin/env bash
# The browser test drives Debian's Chromium (Playwright's own browser download does not work offline).
set -eu
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "Chromium is missing: install it (sudo apt-get install -y chromium) and run make again." >&2
  exit 1
fi
echo "Installing Chromium for the browser test..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
