"""Turn raw pair counts into dm-dt images.

* ``mahabal``: ``255 * count / p`` with ``p = n(n-1)/2`` (Mahabal et al. 2017), float32.
* ``mahabal-uint8``: ``floor(255 * count / p + 0.99999)`` as uint8, the authors' stored form
  (any occupied bin is at least 1).
* ``l2``: ``count / ||count||_2`` (SCoPe / Kowalski), float32.

Images are always derived on read; the raw integer counts are the state.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

Normalisation = Literal["mahabal", "mahabal-uint8", "l2"]
NORMALISATIONS: tuple[str, ...] = get_args(Normalisation)


def n_pairs(n_points: int | np.ndarray) -> int | np.ndarray:
    """``n(n-1)/2``: all pairs of ``n`` points, binned or not."""
    n = np.asarray(n_points, dtype=np.int64)
    pairs = n * (n - 1) // 2
    return int(pairs) if pairs.ndim == 0 else pairs


def normalise(
    counts: np.ndarray, n_points: int | np.ndarray, method: Normalisation = "mahabal"
) -> np.ndarray:
    """Image(s) from counts of shape ``(n_dm, n_dt)`` or ``(N, n_dm, n_dt)``.

    ``n_points`` is one number, or one per curve for a stack. An all-zero input gives an
    all-zero image (a curve of fewer than 2 points, or with every pair outside the grid).

    Examples
    --------
    >>> normalise(np.array([[1, 2], [0, 3]]), 4).tolist()
    [[42.5, 85.0], [0.0, 127.5]]
    """
    if method not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {method!r}; choose one of {list(NORMALISATIONS)}")
    counts = np.asarray(counts)
    if counts.ndim not in (2, 3):
        raise ValueError(f"counts must be 2-D or 3-D, got shape {counts.shape}")
    stack = counts if counts.ndim == 3 else counts[None]
    values = stack.astype(np.float64)
    if method == "l2":
        scale = np.sqrt(np.einsum("nij,nij->n", values, values))
    else:
        scale = np.asarray(n_pairs(n_points), dtype=np.float64).reshape(-1)
        if scale.size not in (1, len(stack)):
            raise ValueError(f"n_points has {scale.size} values for {len(stack)} count arrays")
        scale = np.broadcast_to(scale, (len(stack),)) / 255.0
    safe = np.where(scale > 0, scale, 1.0)[:, None, None]
    image = values / safe
    if method == "mahabal-uint8":
        image = np.clip(np.floor(image + 0.99999), 0, 255).astype(np.uint8)
    else:
        image = image.astype(np.float32)
    return image if counts.ndim == 3 else image[0]
