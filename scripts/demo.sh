#!/usr/bin/env bash
# Set up and run the main job on the embedded default (SQLite + local files), offline:
# `avel demo` in ./avel-demo (generated clips -> fetch -> features -> train -> predict ->
# Label Studio push -> report). Re-running reuses what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${AVEL_VENV:-.venv}/bin/avel" --data-dir "${AVEL_DEMO_DIR:-avel-demo}" demo "$@"
