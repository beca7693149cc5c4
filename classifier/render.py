"""dm-dt images as pictures a person reads (PNG through matplotlib's Agg backend).

Each bin is drawn as an equal cell, whatever its width in magnitudes or days, as in the
paper's figures; the tick labels are the real edge values.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from classifier.grid import DmDtGrid

COLORMAP = "viridis"
SIGNED_COLORMAP = "RdBu_r"


def _edge_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 0.1:
        return f"{value:.3g}"
    return f"{value:g}"


def png_bytes(
    image: np.ndarray,
    grid: DmDtGrid,
    title: str,
    colorbar_label: str = "255 x pairs / n(n-1)/2",
    signed: bool = False,
) -> bytes:
    """``image`` (rows = dm bins, columns = dt bins) as PNG bytes; ``signed`` images (an image
    minus a background) get a diverging colour map centred on zero."""
    if image.shape != grid.shape:
        raise ValueError(f"image shape {image.shape} does not match grid {grid.shape}")
    n_dm, n_dt = grid.shape
    limit = float(np.abs(image).max()) or 1.0
    fig, ax = plt.subplots(figsize=(7.2, 6.4), dpi=110, layout="constrained")
    shown = ax.imshow(
        image,
        origin="lower",
        cmap=SIGNED_COLORMAP if signed else COLORMAP,
        vmin=-limit if signed else None,
        vmax=limit if signed else None,
        aspect="auto",
        extent=(0, n_dt, 0, n_dm),
        interpolation="nearest",
    )
    ax.set_xticks(
        np.arange(n_dt + 1), [_edge_label(v) for v in grid.dt_edges], rotation=90, fontsize=7
    )
    ax.set_yticks(np.arange(n_dm + 1), [_edge_label(v) for v in grid.dm_edges], fontsize=7)
    ax.set_xlabel("dt (days), bin edges")
    ax.set_ylabel("dm (mag, later - earlier), bin edges")
    ax.set_title(title, fontsize=10)
    fig.colorbar(shown, ax=ax, label=colorbar_label)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def render_png(
    image: np.ndarray,
    grid: DmDtGrid,
    path: Path | str,
    title: str,
    colorbar_label: str = "255 x pairs / n(n-1)/2",
) -> Path:
    """Write ``image`` (rows = dm bins, columns = dt bins) to ``path`` as a PNG."""
    path = Path(path)
    path.write_bytes(png_bytes(image, grid, title, colorbar_label))
    return path
