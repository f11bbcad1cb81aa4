"""Process set-up around the Keras backend: threads, determinism, device, versions.

`prepare()` must run before Keras is imported (the backend, TensorFlow's device and logging environment and
XLA's flags are read once, at import); `configure()` right after.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys
from pathlib import Path

from nnstudy.errors import StudyError


def prepare(
    backend="tensorflow",
    threads: int | None = None,
    deterministic=False,
    gpu: dict | None = None,
    log=print,
    compilation_cache: Path | None = None,
) -> None:
    """Logging, Keras backend and — for training jobs, `gpu` given — the job's GPU. The backend is the config's
    choice even where KERAS_BACKEND is set: a run's metrics must say truthfully what trained it.
    `compilation_cache`: a folder where JAX keeps the programs it compiles for the jobs after it (a study's jobs
    compile the same initializers, steps and probes; a cached program is the same program, loaded)."""
    # TensorFlow's C++ INFO lines (oneDNN, CPU features) drown the progress log.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        raise StudyError(f"Keras already runs on {sys.modules['keras'].backend.backend()}, not {backend}")
    if importlib.util.find_spec(backend) is None:
        extra = {"tensorflow": "cpu] or [gpu", "jax": "jax] or [jax-cuda"}[backend]
        raise StudyError(f"training.backend is {backend}, which is not installed here: pip install -e '.[{extra}]'")
    os.environ["KERAS_BACKEND"] = backend
    if backend == "jax":
        # JAX would take 75% of the GPU's memory up front, leaving none for a second job sharing the GPU.
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        flags = ["--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"] if threads == 1 else []
        flags += ["--xla_gpu_deterministic_ops=true"] if deterministic else []
        os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *flags]).strip()
        if compilation_cache is not None:  # keyed by the program, the XLA flags, JAX's version and the device
            os.environ["JAX_COMPILATION_CACHE_DIR"] = str(compilation_cache)
            os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
            os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    if gpu is not None:
        from nnstudy.train import devices

        devices.assign_gpu(gpu["lock_dir"], gpu["jobs_per_gpu"], log, gpu["wait_minutes"])


def configure(threads: int, deterministic: bool, precision: str = "float32", log=print) -> dict:
    """Set threads, determinism and precision; describe the device used."""
    import keras

    keras.mixed_precision.set_global_policy(precision)
    backend, names = keras.backend.backend(), []
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        if deterministic:
            tf.config.experimental.enable_op_determinism()
        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            # Lets several small jobs share one GPU when the allocator asks so.
            tf.config.experimental.set_memory_growth(gpu, True)
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    elif backend == "jax":
        import jax

        names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    device = {
        "type": "GPU" if names else "CPU",
        "name": names[0] if names else platform.processor() or platform.machine(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "backend": backend,
        "precision": precision,
        "deterministic": deterministic,
        "threads": threads,
    }
    if names:
        log(f"running on GPU: {names[0]} (CUDA_VISIBLE_DEVICES={device['cuda_visible_devices']})")
    else:
        log("no GPU visible: running on CPU")
    return device


def versions() -> dict:
    """Python's, Keras', numpy's and the Keras backend's versions."""
    import keras
    import numpy

    found = {"python": platform.python_version(), "keras": keras.__version__, "numpy": numpy.__version__}
    backend = keras.backend.backend()
    if backend in ("tensorflow", "jax"):
        found[backend] = importlib.import_module(backend).__version__
    return found
