#!/usr/bin/env bash
# Create .venv with the pinned dependencies. "dev" adds the test tools.
# Qt's offscreen and xcb platforms need a few system libraries that slim images lack; they are
# installed with apt-get when missing and when we are allowed to (root).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if ! ldconfig -p 2>/dev/null | grep -q libEGL.so.1 || ! ldconfig -p 2>/dev/null | grep -q libxkbcommon.so.0; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libxkbcommon0 \
      libfontconfig1 libdbus-1-3 >/dev/null) || echo "warning: could not install Qt's system libraries" >&2
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
req=requirements.txt
[ "${1:-}" = dev ] && req=requirements-dev.txt
.venv/bin/pip install -q --disable-pip-version-check -r "$req"
