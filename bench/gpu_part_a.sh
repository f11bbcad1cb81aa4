#!/usr/bin/env bash
# Part A at paper settings on a lent GPU machine, on the scan engine, in at
# most BUDGET_SECONDS (default 540: 9 minutes), from the repository root:
#   1. a probe (bench/scan_probe.py, at most 60 s): ms per (90, 100) step in
#      float32 and TF32, with and without --xla_gpu_deterministic_ops=true;
#      whether 200 steps repeat bitwise; whether a pack trains as alone;
#   2. the Part A study (29 runs of 1000 epochs) through Snakemake with
#      training.engine: scan and a deadline that leaves time for step 3;
#      the grid pack and the A3 pack (optimum pinned to the reference's
#      (90, 100), so both train at once) stop at a chunk boundary and keep
#      their resume state: run the script again on the same (warm) machine
#      and the study continues where it stopped;
#   3. $OUT: run.log, summary.txt and summary.json (phases, flags, device,
#      the probe, every run's progress), results.tgz (metrics, plots, tables,
#      report, logs, the runs' resume histories) and the finished runs'
#      weights without optimizer slots (models.tar.part-*, at most 45 MiB).
#
# The device image has JAX with CUDA and PyTorch, no TensorFlow, Keras or
# Snakemake, and no network. Here, once:  bash bench/gpu_part_a.sh prepare
# puts the wheels it lacks in .whl/ (13 MiB) and the CIFAR-10 course files
# in .gpudata/cifar10 (36 MiB); carry both: run(command="bash
# bench/gpu_part_a.sh", carry=[".whl", ".gpudata"], timeout_s=600).
#
# Environment: BUDGET_SECONDS, PRECISION (training.matmul_precision:
# float32, the default, or tf32), CHUNK (training.chunk_epochs, 25), OUT.
set -uo pipefail

if [ "${1:-}" = prepare ]; then
  # Snakemake runs here with --scheduler greedy, so PuLP (16 MiB) stays behind.
  PURE="annotated-types==0.8.0 argparse-dataclass==2.0.0 conda-inject==1.3.2 configargparse==1.9.0
    connection-pool==0.0.3 docutils==0.22.4 dpath==2.2.0 fastjsonschema==2.22.3 gitdb==4.0.12 gitpython==3.2.1
    humanfriendly==10.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 jupyter-core==5.9.1 keras==3.15.1
    namex==0.1.0 nbformat==5.11.1 platformdirs==4.14.9 pydantic==2.14.4 referencing==0.37.0 smart-open==7.7.1
    smmap==5.0.3 snakemake==9.27.1 snakemake-interface-common==1.23.0 snakemake-interface-executor-plugins==9.4.0
    snakemake-interface-logger-plugins==2.1.0 snakemake-interface-report-plugins==1.3.0
    snakemake-interface-scheduler-plugins==2.0.2 snakemake-interface-storage-plugins==4.4.1 sqlmodel==0.0.37
    tenacity==9.2.1 throttler==1.2.3 traitlets==5.16.1 typing-inspection==0.4.5 yte==1.9.4"
  BINARY="greenlet==3.5.6 immutables==0.21 optree==0.20.0 pydantic-core==2.50.5 rpds-py==2026.9.1 sqlalchemy==2.0.58"
  PY=${PYTHON:-.venv/bin/python}
  mkdir -p .whl .gpudata
  # shellcheck disable=SC2086  # the lists are word lists
  $PY -m pip wheel -q --no-deps -w .whl $PURE || exit 1
  # shellcheck disable=SC2086
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $BINARY || exit 1
  cp -r "${CIFAR10_DIR:-../shared/data/cifar10}" .gpudata/ || exit 1
  du -sh .whl .gpudata
  exit 0
fi

OUT=${OUT:-/tmp/gpu-part-a}
BUDGET=${BUDGET_SECONDS:-540}
START=$(date +%s)
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
export PYTHONUNBUFFERED=1 KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=2
PHASES=/tmp/gpu-part-a-phases.tsv
: > "$PHASES"
phase() { echo -e "$1\t$2\t$(( $(date +%s) - $3 ))" >> "$PHASES"; echo "== $1: exit $2 after $(( $(date +%s) - $3 )) s"; }
nvidia-smi -L

t=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
phase install $? "$t"
export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH
python3 -c "import jax, keras, snakemake; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"

t=$(date +%s)
timeout 28 python3 bench/scan_probe.py --json /tmp/probe-default.json
code=$?
XLA_FLAGS=--xla_gpu_deterministic_ops=true timeout 28 python3 bench/scan_probe.py --json /tmp/probe-deterministic.json
phase probe "$code/$?" "$t"

# The study: every job stops by the same wall-clock time, 75 s before the budget ends.
DEADLINE=$(date -d "@$(( START + BUDGET - 75 ))" -Iseconds)
cat > /tmp/part_a_scan.yaml <<YAML
parts: [part_a]
part_a:
  optimum: [90, 100]
training:
  backend: jax
  engine: scan
  chunk_epochs: ${CHUNK:-25}
  deadline: "$DEADLINE"
  matmul_precision: ${PRECISION:-float32}
  threads: 4
  gpu: {jobs_per_gpu: 2}
YAML
cat /tmp/part_a_scan.yaml
t=$(date +%s)
timeout $(( START + BUDGET - 45 - $(date +%s) )) python3 -m snakemake --scheduler greedy --cores 16 --resources gpu=2 \
  --configfile /tmp/part_a_scan.yaml --config cifar10_dir="$PWD/.gpudata/cifar10" > "$OUT/snakemake.log" 2>&1
phase study $? "$t"
tail -5 "$OUT/snakemake.log"

t=$(date +%s)
python3 bench/gpu_part_a_summary.py --phases "$PHASES" --probe /tmp/probe-default.json /tmp/probe-deterministic.json \
  --config /tmp/part_a_scan.yaml --out "$OUT" --models /tmp/shipped-models
tar czf "$OUT/results.tgz" --ignore-failed-read results/part_a results/tables results/report.html \
  logs resume/part_a/packs $(find resume -name history.json 2>/dev/null) --exclude='*.keras' 2>/dev/null
if [ -n "$(ls -A /tmp/shipped-models 2>/dev/null)" ]; then
  tar cf - -C /tmp/shipped-models . | split -b 15M - "$OUT/models.tar.part-"
fi
phase package $? "$t"
cat "$PHASES"
ls -l "$OUT"
