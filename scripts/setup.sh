#!/usr/bin/env bash
# Set up everything avel-annotate needs on a fresh Debian machine, idempotently:
# system packages (ffmpeg) when missing, a virtual environment in .venv with the CPU build of
# torch 2.13.0 and the package with its dev and server extras. Re-running skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AVEL_VENV:-.venv}
PY=${PYTHON:-python3}

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ffmpeg (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "setup: ffmpeg is missing: run 'sudo apt-get install -y ffmpeg'" >&2
    exit 1
  fi
fi

# the browser test of the Label Studio editor (tests/e2e/test_browser.py): Debian's chromium
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium and chromium-driver (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      chromium chromium-driver >/dev/null
  else
    echo "setup: chromium is missing: run 'sudo apt-get install -y chromium chromium-driver'" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.avel-setup-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into $VENV (first run takes a few minutes)"
  "$VENV/bin/pip" install -q --upgrade pip
  # the CPU wheel of torch; a bare 'torch' requirement would pull a multi-GB CUDA build
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q -e ".[dev,server]"
  touch "$stamp"
fi
echo "setup: ready ($VENV)"
