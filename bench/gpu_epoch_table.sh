#!/usr/bin/env bash
# The GPU column of config.yaml's cluster.seconds_per_epoch, on a lent GPU
# machine, from the repository root. The device image has JAX but no
# TensorFlow, so every model trains on training.backend: jax. Expects wheels
# in .whl/ (keras and what the image lacks) and the CIFAR-10 course files in
# .gpudata/cifar10; writes its findings to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-epoch-table}
mkdir -p "$OUT"
exec > >(tee "$OUT/epoch_table.log") 2>&1
export PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
nvidia-smi -L
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
python3 bench/epoch_table.py --backend jax --epochs 5 --threads 2 --sharing 4 \
    --shared-models cifar_cnn char_cnn char_gru word_lstm \
    --cifar10-dir "$PWD/.gpudata/cifar10" --json "$OUT/epoch_table.json"
