#!/usr/bin/env bash
# Part A at paper settings on a lent GPU machine, from the repository root (docs/gpu-part-a.md):
#
#   bash bench/gpu_part_a.sh prepare     here, once: the wheels the device lacks in .whl/ and the
#                                        CIFAR-10 course files in .gpudata/cifar10: carry both
#   bash bench/gpu_part_a.sh grid        on the device: A1 and A2's grid, one pack of 25 runs
#   bash bench/gpu_part_a.sh a3 C1 C2    on the device: A3's four runs at the grid's pair (C1, C2)
#   bash bench/gpu_part_a.sh all         on the device: the grid, then A3 at the pair it picks
#
# The device has JAX with CUDA, no Keras, Snakemake or network: the call installs the carried wheels
# (from the local venv where none were carried: the rehearsal), stops at once with one line when JAX
# sees no GPU (ALLOW_CPU=1: the rehearsal on a CPU), then bench/gpu_part_a.py trains the packs with a
# deadline, writes the summary and fills $OUT within the limits of what comes back.
#
# Environment: OUT (default /tmp/gpu-part-a), BUDGET_SECONDS (default 570: the call's seconds from
# start to a full $OUT), PYTHON (without .whl/: default .venv/bin/python), ALLOW_CPU, CONFIGFILE (a
# config laid over bench/gpu_part_a.yaml: the rehearsal's sizes).
set -uo pipefail
START=$(date +%s)

if [ "${1:-}" = prepare ]; then
  # Snakemake runs there with --scheduler greedy, so PuLP (16 MiB) stays behind.
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
  # What travels: the checkout's files git does not ignore, and the two carried folders; 64 MiB at most.
  tree=$(git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s}')
  carry=$(find .whl .gpudata -type f -printf '%s\n' | awk '{s += $1} END {print s}')
  mib=$(( (tree + carry) / 1048576 + 1 ))
  echo "travels: ${mib} MiB of 64 (the checkout $(( tree / 1048576 )) MiB, .whl/ and .gpudata/ $(( carry / 1048576 )) MiB)"
  if [ "$mib" -gt 63 ]; then exit 1; fi
  echo 'then: run(command="bash bench/gpu_part_a.sh all", carry=[".whl", ".gpudata"], timeout_s=600)'
  exit 0
fi

OUT=${OUT:-/tmp/gpu-part-a}
mkdir -p "$OUT" .gpu-part-a
exec > >(tee "$OUT/run.log") 2>&1
TEE=$!
# The machine ends what a command leaves running: the call waits for tee's last lines to reach run.log.
trap 'exec >&- 2>&-; wait "$TEE"' EXIT
# The compiled programs (packs, identity probes) outlive each job, and the call on a warm machine.
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=2 \
  JAX_COMPILATION_CACHE_DIR=$PWD/.gpu-part-a/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
phases=()

t=$(date +%s)
if [ -d .whl ]; then
  # A warm machine keeps /tmp/site: install again only when the wheels changed.
  wheels=$(ls .whl | sha256sum)
  if [ "$(cat /tmp/site/.wheels 2>/dev/null)" != "$wheels" ]; then
    rm -rf /tmp/site
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    echo "$wheels" > /tmp/site/.wheels
  fi
  PY=python3
  export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH
else
  PY=${PYTHON:-.venv/bin/python}
  export PYTHONPATH=$PWD
fi
phases+=(--phase "install=$(( $(date +%s) - t ))")

t=$(date +%s)
"$PY" - <<'PY' || exit 3
import importlib.util, os, sys
for module in ("jax", "keras", "snakemake", "nnstudy"):
    if importlib.util.find_spec(module) is None:
        sys.exit(f"no {module} here: carry .whl/ (bash bench/gpu_part_a.sh prepare) or set PYTHON")
import jax
devices = jax.devices()
if devices[0].platform != "gpu" and os.environ.get("ALLOW_CPU") != "1":
    sys.exit(f"no GPU: JAX {jax.__version__} sees only {devices}; stopping before the study")
print(f"JAX {jax.__version__} on {devices[0].device_kind} ({devices[0].platform})")
PY
phases+=(--phase "check=$(( $(date +%s) - t ))")

extra=()
if [ -n "${CONFIGFILE:-}" ]; then extra=(--configfile "$CONFIGFILE"); fi
"$PY" bench/gpu_part_a.py "$@" --started "$START" --out "$OUT" "${phases[@]}" "${extra[@]}"
