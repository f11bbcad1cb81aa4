#!/usr/bin/env bash
# GPU check for the device machine, run from the repository root (the device
# image has JAX but no TensorFlow, so every job runs on training.backend: jax):
#   - the smoke study through Snakemake with training jobs on the GPU,
#   - seconds per epoch at paper settings: plain Keras loop vs the engine,
#   - throughput of 4 training jobs one after another vs sharing the GPU.
# Expects wheels in .whl/ (snakemake, keras and what the image lacks) and the
# CIFAR-10 course files in .gpudata/cifar10; writes its findings to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
export PYTHONUNBUFFERED=1 KERAS_BACKEND=${KERAS_BACKEND:-jax}
nvidia-smi -L
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH
python3 -c "import keras, jax; print('keras', keras.__version__, 'backend', keras.backend.backend(), jax.devices())"
DATA=$PWD/.gpudata/cifar10
SMK="python3 -m snakemake --scheduler greedy --cores 16"

echo "== smoke study, 4 training jobs sharing the GPU"
start=$(date +%s)
printf 'training:\n  backend: jax\n  gpu: {jobs_per_gpu: 4}\n' > /tmp/four.yaml
$SMK --resources gpu=4 --config preset=smoke cifar10_dir=$DATA --configfile /tmp/four.yaml > "$OUT/smoke.log" 2>&1
echo "smoke study: exit $? in $(( $(date +%s) - start )) s"
tail -3 "$OUT/smoke.log"
python3 - <<'PY'
import glob, json
docs = [json.load(open(p)) for p in glob.glob("results/part_*/runs/*/metrics.json")]
print(len(docs), "runs;", "devices:", sorted({(d["device"]["type"], d["device"]["name"]) for d in docs}))
PY
grep -h "took GPU\|running on" logs/results/part_a/runs/*.log | sort | uniq -c | head -5

echo "== seconds per epoch, paper settings (full data, batch 128)"
python3 bench/speed.py --backend jax --epochs 5 --repeats 1 --cifar10-dir "$DATA" --json "$OUT/speed.json"

echo "== throughput: 4 CIFAR jobs (3 epochs, 10,000 images) sequential vs sharing the GPU"
printf 'presets:\n  quick:\n    part_a: {epochs: 3, train_limit: null, test_limit: null}\ntraining:\n  backend: jax\n  gpu: {jobs_per_gpu: 4}\n' > /tmp/share.yaml
targets=$(for p in 10-20 30-40 70-80 90-100; do echo "results/part_a/runs/c1-${p%-*}_c2-${p#*-}_sgd_dropout-0_seed-1/metrics.json"; done)
for gpus in 1 4; do
  start=$(date +%s.%N)
  $SMK --resources gpu=$gpus --forcerun train_cifar --config preset=quick cifar10_dir=$DATA --configfile /tmp/share.yaml -- $targets > "$OUT/share_$gpus.log" 2>&1
  echo "gpu=$gpus: exit $? in $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s for 4 jobs"
done
