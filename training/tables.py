"""Small Markdown and picture helpers shared by the experiment reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def number_table(
    corner: str, columns: Sequence[str], rows: Mapping[str, Sequence[float]]
) -> list[str]:
    """A Markdown table of numbers (3 decimals), one row per ``rows`` entry."""
    return [
        f"| {corner} | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
        *(
            f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |"
            for name, values in rows.items()
        ),
    ]


def line_figure(
    x: Sequence,
    series: Mapping[str, Sequence[float]],
    path: Path,
    ylim: tuple[float, float],
    **labels: str,
) -> Path:
    """One line with markers per ``series`` entry; ``labels``: xlabel, ylabel, title."""
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for name, values in series.items():
        ax.plot(x, values, marker="o", label=name)
    ax.set(ylim=ylim, **labels)
    ax.legend()
    figure.savefig(path)
    plt.close(figure)
    return path
