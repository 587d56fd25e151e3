#!/usr/bin/env bash
# The device benchmarks of issue 14 in one go, JSON under benchmarks/results/gpu_*.json.
#
#   benchmarks/gpu.sh            on a CUDA machine: AVE-size training (bf16, TF32), resume
#                                check, extraction with 1..N decode worker processes, predict; < 8 min
#   benchmarks/gpu.sh --smoke    (or AVEL_BENCH_SMOKE=1) tiny sizes on whatever device there is
#                                (CPU here): the CI smoke run, well under a minute
#
# Extra arguments go to benchmarks/bench_gpu.py (e.g. --sections train predict).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export CUBLAS_WORKSPACE_CONFIG=:4096:8   # deterministic cuBLAS for the resume check
export AVEL_PROGRESS=false
if [[ " ${*-} " =~ " --smoke " ]] || [ "${AVEL_BENCH_SMOKE:-0}" = 1 ]; then export OMP_NUM_THREADS=1; fi  # tiny sizes: threads only contend
ARGS=("$@")
if [ "${AVEL_BENCH_SMOKE:-0}" = 1 ] && [[ ! " ${ARGS[*]-} " =~ " --smoke " ]]; then
  ARGS+=(--smoke)
fi
if [[ " ${ARGS[*]-} " =~ " --smoke " ]]; then
  exec timeout 300 "$PY" benchmarks/bench_gpu.py "${ARGS[@]}"
fi
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: use --smoke')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 480 "$PY" benchmarks/bench_gpu.py --device cuda "${ARGS[@]}"
