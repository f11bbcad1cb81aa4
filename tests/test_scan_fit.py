"""The packed engine (nnstudy.train.scan) against training.fit on Keras' JAX backend.

Five runs of 3 epochs (SGD, momentum, RMSProp, Adam, SGD with dropout 0.5)
with a remainder batch and two evaluation batches, trained by `fit` one by
one and by the scan engine as one pack, in a JAX worker (tests/scan_harness.py).

Both engines run the same Keras train and test steps on the same batches;
only XLA's programs differ (one step per program in fit, a chunk's steps in
one program here), so the numbers may differ by float32 rounding. Measured
here, at the workers' LLVM level 1: the accuracies equal, the losses within
1.1e-7 relative, the weights within 3.7e-7. At XLA's default level: the
losses within 8.3e-7, the weights within 1 ulp after 2 epochs, but in the
3rd epoch of momentum SGD a rounding difference flips one ReLU or max-pool
choice and the C1 weights then differ by up to 5.8e-6 (weights are ~0.05).
"""

import numpy as np
import pytest
from scan_harness import curves, finish, job, result, start

RUNS = [
    [10, 20, "sgd", 0.0, 1],
    [10, 20, "momentum", 0.0, 1],
    [10, 20, "rmsprop", 0.0, 1],
    [10, 20, "adam", 0.0, 1],
    [10, 20, "sgd", 0.5, 1],
]
NAMES = ["_".join(str(part) for part in run) for run in RUNS]
# Histories: relative; weights: absolute, a few such flips' worth.
RTOL, WEIGHT_ATOL = 1e-5, 5e-5


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scan-fit")
    jobs = [job("fit", "fit", RUNS, tmp / "fit", 3), job("scan", "scan", RUNS, tmp / "scan", 3, chunk=3)]
    finish(start(tmp / "plan.json", jobs))
    return result(tmp / "fit"), result(tmp / "scan")


@pytest.mark.parametrize("name", NAMES)
def test_scan_trains_as_fit(engines, name):
    fit, scan = engines
    fit_curves, scan_curves = curves(fit["histories"][name]), curves(scan["histories"][name])
    assert scan_curves[:, 0].tolist() == [1, 2, 3]
    # Accuracies are counts of correct answers: a rounding difference would have to flip one.
    np.testing.assert_array_equal(scan_curves[:, [2, 4]], fit_curves[:, [2, 4]])
    np.testing.assert_allclose(scan_curves[:, [1, 3]], fit_curves[:, [1, 3]], rtol=RTOL)
    for scan_weights, fit_weights in zip(scan["weights"][name], fit["weights"][name], strict=True):
        np.testing.assert_allclose(scan_weights, fit_weights, rtol=0, atol=WEIGHT_ATOL)
