#!/usr/bin/env bash
# Install the Debian packages the tests (and `make serve`) need, where they are missing:
#   chromium    the browser the end-to-end tests drive (Playwright's own download does not work offline)
#   haproxy     the reverse proxy in front of the page's replicas (scripts/serve.py)
#   postgresql  a real database server for the store's tests (testkit/postgres.py starts a throw-away one)
#   openssl     certificates of the tests' own for a training cluster over TLS (docs/cluster.md)
# Usage: scripts/install-debian-packages.sh [PACKAGE ...]   (default: all four)
set -euo pipefail

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(chromium haproxy postgresql openssl)

present() {
  case "$1" in
    chromium) [ -x /usr/bin/chromium ] ;;
    haproxy) command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] ;;
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 ;;
    openssl) command -v openssl >/dev/null 2>&1 ;;
    *) dpkg -s "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for package in "${packages[@]}"; do
  present "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing: ${missing[*]}. Install them with your package manager (they are Debian's chromium, haproxy and postgresql)." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "Missing: ${missing[*]}. Run 'apt-get install -y ${missing[*]}' as root." >&2
    exit 1
  fi
fi
echo "Installing Debian's ${missing[*]} ..."
$sudo apt-get update -qq
# Only the server's programs are used: the tests start PostgreSQL in a temporary folder of their own.
# (sudo drops DEBIAN_FRONTEND from the environment: `env` passes it through.)
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for package in "${missing[@]}"; do
  present "$package" || { echo "Installing $package did not give what the tests need." >&2; exit 1; }
done
