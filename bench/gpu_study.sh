#!/usr/bin/env bash
# The GPU study, one command on a GPU machine (offline; needs torch, numpy, scipy, tokenizers, pandas and this
# checkout, installed or not):   bash bench/gpu_study.sh [--device cuda:N] [--out FILE] [--seeds N] [--quick] ...
# Stratified, Aioli and grid search on 48 paired seeds of the tiny model through the project's trainer, 8 runs
# side by side on one GPU, in <= 6 minutes; writes one JSON and a markdown table (see bench/gpu_study.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" bench/gpu_study.py "$@"
