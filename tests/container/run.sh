#!/usr/bin/env bash
# Container test of the nnstudy workflow (needs root; Debian 12 host).
#
#  1. installs podman, runc, debootstrap, skopeo and umoci when missing;
#  2. builds a minimal Debian 12 base image with debootstrap (container
#     registries are unreachable in CI) and imports it into podman;
#  3. builds containers/Containerfile on it with CPU TensorFlow;
#  4. runs a smoke study (A1 and B5) INSIDE the image, on a temporary copy of this
#     checkout bind-mounted at /work and the CIFAR-10 files mounted read-only,
#     then checks the outputs and that a second `snakemake -n` has nothing to do;
#  5. exercises the Apptainer route as far as possible without Apptainer:
#     `podman save` -> docker-archive -> OCI layout -> unpacked root file system
#     (the chain `apptainer build study.sif docker-archive://...` uses), runs the
#     %environment and %test sections of containers/study.def there, and lints
#     the definition file.
#  Removes everything it created on exit (images too, unless KEEP_IMAGES=1).
#
# Environment knobs:
#   KEEP_IMAGES=1         keep the built images (and reuse the base image next time)
#   CIFAR10_DIR=DIR       CIFAR-10 files (default: <repo>/../shared/data/cifar10)
#   TENSORFLOW=REQ        TensorFlow requirement (default: tensorflow-cpu>=2.20,<2.22)
#   NNSTUDY_IMAGE=NAME    tag of the image built (default: localhost/nnstudy:cpu-test)
#   NNSTUDY_SMOKE=auto|1|0  run the smoke study (auto: when a Snakefile exists)
#   NNSTUDY_APPTAINER_CHECK=1|0  step 5 (default 1)
#   DEBIAN_MIRROR=URL     mirror for debootstrap (default: the host's apt mirror)
#   NNSTUDY_CONTAINER_CACHE=DIR  where the debootstrap tarball is cached
#                         (default: ~/.cache/nnstudy-container; "none" disables)
#   CONTAINERS_CONF=FILE  podman settings (default: containers/containers.conf)
set -euo pipefail

SECONDS=0
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)

KEEP_IMAGES=${KEEP_IMAGES:-0}
CIFAR10_DIR=${CIFAR10_DIR:-$REPO/../shared/data/cifar10}
TENSORFLOW=${TENSORFLOW:-tensorflow-cpu>=2.20,<2.22}
IMAGE=${NNSTUDY_IMAGE:-localhost/nnstudy:cpu-test}
BASE_IMAGE=localhost/debian-bookworm-base:latest
SMOKE=${NNSTUDY_SMOKE:-auto}
APPTAINER_CHECK=${NNSTUDY_APPTAINER_CHECK:-1}
CACHE_DIR=${NNSTUDY_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nnstudy-container}
SUITE=bookworm
export CONTAINERS_CONF=${CONTAINERS_CONF:-$REPO/containers/containers.conf}

WORK=""
CREATED_IMAGES=()
CONTAINERS=()
TIMINGS=()
STEP_NAME=""
STEP_START=0

# TensorFlow's C++ start-up chatter, dropped from what is shown.
TF_NOISE='^(WARNING: All log messages before absl|I0000 |W0000 |E0000 |To enable the following instructions)'

# Shows a log without that chatter, indented.
show() { grep -v -E "$TF_NOISE" "$1" | sed 's/^/    /' || true; }

log() { printf '[container-test %4ds] %s\n' "$SECONDS" "$*"; }
die() {
    printf '[container-test %4ds] ERROR: %s\n' "$SECONDS" "$*" >&2
    exit 1
}
step() {
    end_step
    STEP_NAME=$1
    STEP_START=$SECONDS
    log "== $STEP_NAME"
}
end_step() {
    if [[ -n $STEP_NAME ]]; then
        TIMINGS+=("$(printf '%5ds  %s' $((SECONDS - STEP_START)) "$STEP_NAME")")
        STEP_NAME=""
    fi
}
# Runs a command with its output in a log file; shows the log's end on failure.
quiet() {
    local logfile=$1
    shift
    if ! "$@" >"$logfile" 2>&1; then
        printf '%s\n' "---- last 60 lines of $logfile:" >&2
        tail -n 60 "$logfile" >&2
        die "failed: $*"
    fi
}

cleanup() {
    local rc=$?
    set +e
    end_step
    for c in "${CONTAINERS[@]}"; do
        podman rm -f "$c" >/dev/null 2>&1
    done
    if [[ $KEEP_IMAGES == 1 ]]; then
        ((${#CREATED_IMAGES[@]})) && log "keeping images (KEEP_IMAGES=1): ${CREATED_IMAGES[*]}"
    else
        for ((i = ${#CREATED_IMAGES[@]} - 1; i >= 0; i--)); do
            podman rmi -f "${CREATED_IMAGES[i]}" >/dev/null 2>&1 && log "removed image ${CREATED_IMAGES[i]}"
        done
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        # debootstrap or a failed chroot may leave mounts behind: never delete through them.
        findmnt -rn -o TARGET | grep -F -- "$WORK/" | sort -r | while read -r m; do umount -l "$m"; done
        rm -rf --one-file-system -- "$WORK"
    fi
    if ((${#TIMINGS[@]})); then
        log "timings:"
        printf '    %s\n' "${TIMINGS[@]}"
    fi
    if ((rc == 0)); then
        log "PASSED in ${SECONDS}s"
    else
        log "FAILED (exit $rc) after ${SECONDS}s"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
step "preconditions and packages"
[[ $(id -u) == 0 ]] || die "run as root (podman build/run as root, debootstrap, chroot)"
command -v apt-get >/dev/null || die "needs a Debian/Ubuntu host with apt-get"
[[ -f $REPO/pyproject.toml && -f $REPO/containers/Containerfile ]] || die "cannot find the repository at $REPO"
[[ -f $CONTAINERS_CONF ]] || die "CONTAINERS_CONF=$CONTAINERS_CONF does not exist"

need=()
for pair in podman:podman runc:runc debootstrap:debootstrap skopeo:skopeo umoci:umoci \
    unshare:util-linux findmnt:util-linux python3:python3; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || need+=(ca-certificates)
if ((${#need[@]})); then
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run (e.g. an earlier CI step) may hold the lock: wait for it.
    quiet "${TMPDIR:-/tmp}/nnstudy-apt-update.log" apt-get -o DPkg::Lock::Timeout=600 update
    quiet "${TMPDIR:-/tmp}/nnstudy-apt-install.log" apt-get -o DPkg::Lock::Timeout=600 install -y \
        --no-install-recommends "${need[@]}"
fi
log "$(podman --version), $(runc --version | head -n1), CONTAINERS_CONF=$CONTAINERS_CONF"
quiet "${TMPDIR:-/tmp}/nnstudy-podman-info.log" podman info
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/nnstudy-container-test.XXXXXX")
log "scratch directory $WORK"

# ---------------------------------------------------------------------------
step "base image $BASE_IMAGE (debootstrap $SUITE)"
host_mirror() {
    # First Debian mirror serving $SUITE in the host's apt sources (deb822 or one-line).
    python3 - "$SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
files = glob.glob("/etc/apt/sources.list.d/*.sources") + ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list")
for name in files:
    try:
        text = open(name).read()
    except OSError:
        continue
    if name.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                    and fields.get("enabled", ["yes"])[0] != "no":
                print(fields["uris"][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                print(parts[1]); sys.exit(0)
print("http://deb.debian.org/debian")
PY
}
base_preexisting=0
if podman image exists "$BASE_IMAGE"; then
    base_preexisting=1
    log "reusing existing $BASE_IMAGE (podman rmi it to rebuild)"
else
    MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}
    cache_tar=""
    if [[ $CACHE_DIR != none ]]; then
        key=$(printf '%s %s minbase' "$MIRROR" "$SUITE" | sha256sum | cut -c1-12)
        cache_tar=$CACHE_DIR/debian-$SUITE-minbase-$key.tar
    fi
    # A cached root file system older than a week is rebuilt (security updates).
    if [[ -n $cache_tar && -f $cache_tar && -n $(find "$cache_tar" -mtime -7) ]]; then
        log "using cached debootstrap tarball $cache_tar"
        base_tar=$cache_tar
    else
        log "debootstrap --variant=minbase $SUITE from $MIRROR"
        quiet "$WORK/debootstrap.log" debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR"
        rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/* \
            "$WORK"/rootfs/var/log/*.log "$WORK"/rootfs/var/log/apt/*
        base_tar=$WORK/rootfs.tar
        tar --numeric-owner --xattrs -C "$WORK/rootfs" -cf "$base_tar" .
        rm -rf --one-file-system "$WORK/rootfs"
        if [[ -n $cache_tar ]]; then
            mkdir -p "$CACHE_DIR"
            cp "$base_tar" "$cache_tar.tmp.$$" && mv -f "$cache_tar.tmp.$$" "$cache_tar"
            log "cached debootstrap tarball as $cache_tar"
        fi
    fi
    quiet "$WORK/import.log" podman import --change 'CMD ["/bin/bash"]' "$base_tar" "$BASE_IMAGE"
    CREATED_IMAGES+=("$BASE_IMAGE")
    log "imported $BASE_IMAGE"
fi

# ---------------------------------------------------------------------------
step "build $IMAGE ($TENSORFLOW)"
# The host's package-index settings (mirror, proxy index, local wheel
# directories) go into the build as a pip.conf *secret*, local directories as
# read-only volumes; the CA bundle as a secret too.  Nothing of it is stored in
# the image.
build_args=(
    --build-arg "BASE_IMAGE=$BASE_IMAGE"
    --build-arg "TENSORFLOW=$TENSORFLOW"
    --secret "id=pipconf,src=$WORK/pip.conf"
)
mapfile -t pip_dirs < <(python3 "$HERE/host_pip_settings.py" "$WORK/pip.conf")
for d in "${pip_dirs[@]}"; do
    build_args+=(--volume "$d:$d:ro")
done
log "host pip index settings: $(grep -v '^\[' "$WORK/pip.conf" | tr '\n' ';' || true) mounts: ${pip_dirs[*]:-none}"
ca=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}
if [[ -s $ca ]]; then
    build_args+=(--secret "id=cacert,src=$ca")
    log "CA bundle for pip: $ca (build secret)"
fi
# (Proxy variables of the host reach the build's RUN steps without being
# recorded: podman build --http-proxy is on by default.)
build_start=$SECONDS
quiet "$WORK/build.log" podman build --network host --pull=never \
    --ignorefile "$REPO/containers/.containerignore" \
    -f "$REPO/containers/Containerfile" -t "$IMAGE" "${build_args[@]}" "$REPO"
CREATED_IMAGES+=("$IMAGE")
BUILD_SECONDS=$((SECONDS - build_start))
IMAGE_BYTES=$(podman image inspect --format '{{.Size}}' "$IMAGE")
IMAGE_SIZE=$(numfmt --to=iec --suffix=B "$IMAGE_BYTES")
log "built $IMAGE in ${BUILD_SECONDS}s, size $IMAGE_SIZE"
grep -E '^(keras .* tensorflow|[0-9]+\.[0-9]+\.[0-9]+$)' "$WORK/build.log" | sed 's/^/    /' || true

# ---------------------------------------------------------------------------
step "image checks"
run_in_image() { # name, podman-run options..., -- command...
    local name=nnstudy-ctest-$$-$1
    shift
    CONTAINERS+=("$name")
    podman run --rm --name "$name" --network none "$@"
}
run_in_image env --entrypoint /bin/sh "$IMAGE" -c '
    set -e
    for f in /run/secrets/cacert /run/secrets/pipconf /root/.cache/pip; do
        if [ -e "$f" ]; then echo "leaked into the image: $f" >&2; exit 1; fi
    done
    if env | grep -E "^PIP_(CERT|CONFIG_FILE|INDEX_URL|EXTRA_INDEX_URL|FIND_LINKS)="; then
        echo "pip settings leaked into the image environment" >&2; exit 1
    fi
    command -v snakemake
    snakemake --version
' || die "image environment check failed"
# The image holds the environment only: nnstudy must come from the mounted checkout.
if run_in_image no-nnstudy "$IMAGE" python -c 'import nnstudy' 2>/dev/null; then
    die "nnstudy is importable without a mounted checkout: the image should not contain it"
fi

# A copy of the working tree, so the developer's results/.snakemake stay untouched.
COPY=$WORK/checkout
mkdir -p "$COPY"
tar -C "$REPO" -c \
    --exclude=./.venv --exclude=./results --exclude=./.snakemake --exclude=./resume \
    --exclude=./logs --exclude=./benchmarks --exclude=./resources --exclude=./report.html \
    --exclude=./report.zip --exclude=./.pytest_cache --exclude='*.egg-info' --exclude=__pycache__ \
    . | tar -C "$COPY" -x
log "copied the working tree to $COPY ($(du -sh "$COPY" | cut -f1))"
run_in_image imports -v "$COPY:/work" -w /work "$IMAGE" python -c '
import keras, tensorflow as tf, nnstudy
assert nnstudy.__file__.startswith("/work/"), nnstudy.__file__
print("keras", keras.__version__, "| tensorflow", tf.__version__, "| nnstudy from", nnstudy.__file__,
      "| GPUs:", tf.config.list_physical_devices("GPU"))
' >"$WORK/imports.log" 2>&1 ||
    { cat "$WORK/imports.log" >&2; die "importing keras, tensorflow, nnstudy in the image failed"; }
show "$WORK/imports.log"
# Docker users run with --user "$(id -u):$(id -g)" so results are theirs: the
# environment must work for an arbitrary non-root user with HOME=/tmp.
run_in_image nonroot --user 12345:12345 -e HOME=/tmp -e TF_CPP_MIN_LOG_LEVEL=3 "$IMAGE" python -c '
import keras, tensorflow, matplotlib.pyplot, seaborn, pandas, snakemake
print("non-root user: imports fine")' >"$WORK/nonroot.log" 2>&1 ||
    { cat "$WORK/nonroot.log" >&2; die "the image does not work for a non-root user"; }
show "$WORK/nonroot.log"

# ---------------------------------------------------------------------------
if [[ $SMOKE == auto ]]; then
    if [[ -f $COPY/Snakefile ]]; then SMOKE=1; else SMOKE=0; fi
fi
if [[ $SMOKE == 1 ]]; then
    step "smoke study inside the image"
    [[ -f $COPY/Snakefile ]] || die "no Snakefile in $REPO"
    CIFAR10_DIR=$(cd -- "$CIFAR10_DIR" 2>/dev/null && pwd) || die "CIFAR-10 directory not found (set CIFAR10_DIR)"
    for f in data_batch_1 test_batch_trim batches.meta; do
        [[ -f $CIFAR10_DIR/$f ]] || die "missing $CIFAR10_DIR/$f"
    done
    mounts=(-v "$COPY:/work" -v "$CIFAR10_DIR:/data/cifar10:ro" -w /work)
    # A1 and B5 (9 runs, both parts, the report): the image's environment is the
    # point here; the whole smoke study runs in the SLURM stage and the tests.
    smoke=(snakemake --cores 2 --resources gpu=1 --config preset=smoke cifar10_dir=/data/cifar10 "questions=[a1, b5]")
    log "podman run --rm --network none -v <copy>:/work -v $CIFAR10_DIR:/data/cifar10:ro -w /work $IMAGE ${smoke[*]}"
    smoke_start=$SECONDS
    if ! run_in_image smoke "${mounts[@]}" "$IMAGE" "${smoke[@]}" >"$WORK/smoke.log" 2>&1; then
        tail -n 80 "$WORK/smoke.log" >&2
        die "the smoke study failed inside the container (log above)"
    fi
    SMOKE_SECONDS=$((SECONDS - smoke_start))
    grep -E '[0-9]+ of [0-9]+ steps' "$WORK/smoke.log" | tail -n 1 | sed 's/^/    /' || true
    log "smoke study finished in ${SMOKE_SECONDS}s"

    run_in_image dryrun "${mounts[@]}" "$IMAGE" "${smoke[@]}" -n >"$WORK/dryrun.log" 2>&1 ||
        { tail -n 40 "$WORK/dryrun.log" >&2; die "snakemake -n failed in the container"; }
    grep -q 'Nothing to be done' "$WORK/dryrun.log" ||
        { tail -n 40 "$WORK/dryrun.log" >&2; die "snakemake -n after the smoke run still has jobs to do"; }
    log "snakemake -n in the container: nothing to be done"

    run_in_image check "${mounts[@]}" -e TF_CPP_MIN_LOG_LEVEL=3 "$IMAGE" \
        python tests/container/check_smoke.py results CPU >"$WORK/check.log" 2>&1 ||
        { cat "$WORK/check.log" >&2; die "smoke outputs are wrong"; }
    show "$WORK/check.log"
else
    log "no Snakefile yet (or NNSTUDY_SMOKE=0): smoke study skipped"
fi

# ---------------------------------------------------------------------------
if [[ $APPTAINER_CHECK == 1 ]]; then
    step "Apptainer route: docker-archive -> OCI -> root file system, study.def"
    archive=$WORK/nnstudy-image.tar
    quiet "$WORK/save.log" podman save --format docker-archive -o "$archive" "$IMAGE"
    log "podman save: $(du -h "$archive" | cut -f1) docker-archive"
    python3 "$HERE/lint_def.py" "$REPO/containers/study.def" "$archive" || die "study.def / archive check failed"
    # What `apptainer build ... docker-archive://` does: containers/image copies
    # the archive to an OCI layout, whose layers are then unpacked.
    quiet "$WORK/skopeo.log" skopeo copy docker-archive:"$archive" oci:"$WORK/oci:nnstudy"
    rm -f "$archive"
    quiet "$WORK/umoci.log" umoci unpack --image "$WORK/oci:nnstudy" "$WORK/bundle"
    rm -rf "$WORK/oci"
    rootfs=$WORK/bundle/rootfs
    # Apptainer's environment: the image's ENV (as 10-docker2singularity.sh),
    # then %environment from study.def; then %test is run.
    mkdir -p "$rootfs/.nnstudy-test"
    podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" |
        python3 -c 'import shlex, sys
for line in sys.stdin:
    line = line.rstrip("\n")
    if "=" in line:
        key, value = line.split("=", 1)
        print(f"export {key}={shlex.quote(value)}")' >"$rootfs/.nnstudy-test/10-docker.sh"
    awk -v root="$rootfs/.nnstudy-test" '
        /^%[a-z]+/ { section = substr($1, 2); next }
        section == "environment" { print > (root "/90-environment.sh") }
        section == "test"        { print > (root "/test.sh") }
    ' "$REPO/containers/study.def"
    cat >"$rootfs/.nnstudy-test/run.sh" <<'SH'
set -e
cd /work
. /.nnstudy-test/10-docker.sh
. /.nnstudy-test/90-environment.sh
python -c 'import nnstudy; assert nnstudy.__file__.startswith("/work/"), nnstudy.__file__; print("nnstudy from", nnstudy.__file__)'
TF_CPP_MIN_LOG_LEVEL=3 sh -e /.nnstudy-test/test.sh
SH
    mkdir -p "$rootfs/work"
    # Private mount namespace: the mounts vanish with it, even on failure.
    unshare --mount --pid --fork sh -ec '
        mount --make-rprivate /
        mount -t proc proc "$1/proc"
        mount --rbind /dev "$1/dev"
        mount --bind "$2" "$1/work"
        exec chroot "$1" /bin/sh /.nnstudy-test/run.sh
    ' sh "$rootfs" "$COPY" >"$WORK/apptainer-sim.log" 2>&1 ||
        { tail -n 40 "$WORK/apptainer-sim.log" >&2; die "the unpacked image failed %environment/%test of study.def"; }
    show "$WORK/apptainer-sim.log"
    log "unpacked image passes study.def %test (Apptainer itself is not available on Debian 12: not tested)"
fi

end_step
log "summary: image $IMAGE, ${IMAGE_SIZE} (build ${BUILD_SECONDS}s)${SMOKE_SECONDS:+, smoke study in container ${SMOKE_SECONDS}s}"
