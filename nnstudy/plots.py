"""The plots of one run, drawn by its training job: learning curves (costs.png, accuracies.png in the run
folder) and A1b's feature maps. Importing it sets the seaborn theme that nnstudy.analysis.figures shares.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sns.set_theme(context="notebook", style="whitegrid")

# The history's key and the y axis label of each quantity.
_CURVES = {"cost": ("loss", "cost (cross-entropy, nats)"), "accuracy": ("accuracy", "accuracy")}


def learning_curves(history: list[dict], quantity: str, title: str, path: Path) -> None:
    """Training and test `quantity` ("cost" or "accuracy") against epochs."""
    key, ylabel = _CURVES[quantity]
    frame = pd.DataFrame(history).rename(columns={f"train_{key}": "training", f"test_{key}": "test"})
    long = frame.melt(id_vars="epoch", value_vars=["training", "test"], var_name="set")
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(data=long, x="epoch", y="value", hue="set", marker="o" if len(frame) < 30 else None, ax=ax)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    if quantity == "accuracy":
        ax.set_ylim(0, 1)
    ax.legend(title=None)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _tile(maps: np.ndarray, columns: int) -> np.ndarray:
    """H×W×N maps → one grid image of N tiles, NaN gutters between them."""
    height, width, count = maps.shape
    rows = -(-count // columns)
    grid = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan)
    for index in range(count):
        r, c = divmod(index, columns)
        grid[r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width] = maps[..., index]
    return grid


def feature_maps(image: np.ndarray, activations: dict[str, np.ndarray], title: str, path: Path) -> None:
    """The input image and, per layer, each channel as a grayscale tile. Activations follow ReLU (≥ 0); a
    layer's tiles share one range [0, layer max], so that they compare directly."""
    count = len(activations)
    fig, axes = plt.subplots(
        1, count + 1, figsize=(2.8 * (count + 1), 3.3), gridspec_kw={"width_ratios": [1] + [1.4] * count}
    )
    axes[0].imshow(np.clip(image, 0, 1), interpolation="nearest")
    axes[0].set_title("input")
    for ax, (name, maps) in zip(axes[1:], activations.items()):
        upper = float(maps.max()) or 1.0
        columns = int(np.ceil(np.sqrt(maps.shape[-1])))
        cmap = plt.get_cmap("gray").with_extremes(bad="white")
        shown = ax.imshow(_tile(maps, columns), cmap=cmap, vmin=0.0, vmax=upper, interpolation="nearest")
        ax.set_title(f"{name}: {maps.shape[-1]} maps {maps.shape[0]}×{maps.shape[1]}")
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
