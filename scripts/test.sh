#!/usr/bin/env bash
# Set up a virtual environment with the pinned dependencies and run the test suite (no GPU, no shared data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q "$@"
