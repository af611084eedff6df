#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, unless a Chromium is already there.
# Playwright's own browser download does not work everywhere (offline build
# machines reach package registries only), Debian's package does.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "The browser tests need Chromium at /usr/bin/chromium; install it with your package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "The browser tests need Chromium: run 'apt-get install -y chromium' as root." >&2
    exit 1
  fi
fi
echo "Installing Debian's chromium for the browser tests ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/chromium --version
