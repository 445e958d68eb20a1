#!/usr/bin/env bash
# The device check, one command on a GPU machine (offline; needs torch, numpy, tokenizers, pandas and this
# checkout, installed or not):   bash bench/gpu_check.sh [--device cuda:N] [--out FILE] [--quick] ...
# Runs the CUDA tests, measures the 160M shape's throughput per path, trains gpu-sample runs (stratified and
# Aioli, twice each) on the shipped corpus; prints a table and writes one JSON summary (see bench/gpu_check.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" bench/gpu_check.py "$@"
