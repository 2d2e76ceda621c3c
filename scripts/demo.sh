#!/usr/bin/env bash
# Set up and run the main job headless on the bundled demo clip; outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python main.py --demo --headless --record out/demo_annotated.mp4 --export out/demo_frames.jsonl \
  --summary-json out/demo_run.json "$@"
