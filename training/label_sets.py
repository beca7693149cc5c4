"""Training labels that name a set of classes: ``"EW|EA"`` is "EW or EA".

A survey whose types are coarser than the CSS classes (an EROS binary is an EW or an EA) still
teaches the model what its photometry looks like: :func:`label_mask` turns such labels into
the boolean masks :func:`training.fit.fit` trains on, with the partial-label loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEPARATOR = "|"


def set_label(classes: Sequence[str]) -> str:
    """The one label that stands for any of ``classes``."""
    return SEPARATOR.join(classes)


def label_mask(labels: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """``(len(labels), len(classes))`` boolean mask of the classes each label allows.

    >>> label_mask(["EW", "EW|EA"], ["EW", "EA", "LPV"]).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    mask = np.zeros((len(labels), len(classes)), dtype=bool)
    for row, label in enumerate(labels):
        for name in label.split(SEPARATOR):
            if name not in classes:
                raise ValueError(f"label {label!r}: {name!r} is not one of {list(classes)}")
            mask[row, classes.index(name)] = True
    return mask
