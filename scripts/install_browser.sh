#!/usr/bin/env bash
# Install what the browser test needs: Debian's Chromium (Playwright drives it; no browser download).
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: apt-get not found; install Chromium yourself (it must be at /usr/bin/chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null); then
  echo "install_browser: could not install Debian's chromium with apt-get (no root, or no package mirror?)" >&2
  exit 1
fi
