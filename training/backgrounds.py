"""Background images (Mahabal et al. 2017, section 3), computed on training images.

Subtracting a background from a dm-dt image removes what every object shares (chiefly the
survey's cadence, which fixes which dt bins are populated at all) and brings out what
distinguishes a class. Four backgrounds, each an image on the model's grid, in the same
units as the model image (fraction of all pairs per bin):

* ``cadence``: the mean image of all training objects (the pseudo-cadence background);
* ``class:<name>``: the per-pixel median image of one class;
* ``max``: the per-pixel maximum over the class medians;
* ``rpca``: the mean of the low-rank part L of robust PCA (principal component pursuit,
  images = L + S with S sparse), the structure shared by all objects without their outliers.
"""

from __future__ import annotations

import numpy as np


def robust_pca(
    matrix: np.ndarray, max_iter: int = 200, tol: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Principal component pursuit by the inexact augmented Lagrangian method
    (Candes et al. 2011; Lin et al. 2010): ``matrix = low_rank + sparse``."""
    m, n = matrix.shape
    lam = 1.0 / np.sqrt(max(m, n))
    norm_two = np.linalg.norm(matrix, 2)
    dual = matrix / max(norm_two, np.abs(matrix).max() / lam)
    mu, rho = 1.25 / norm_two, 1.5
    low_rank = np.zeros_like(matrix)
    sparse = np.zeros_like(matrix)
    norm_fro = np.linalg.norm(matrix)
    for _ in range(max_iter):
        residual = matrix - low_rank + dual / mu
        sparse = np.sign(residual) * np.maximum(np.abs(residual) - lam / mu, 0.0)
        u, sigma, vt = np.linalg.svd(matrix - sparse + dual / mu, full_matrices=False)
        sigma = np.maximum(sigma - 1.0 / mu, 0.0)
        rank = int(np.count_nonzero(sigma))
        low_rank = (u[:, :rank] * sigma[:rank]) @ vt[:rank]
        gap = matrix - low_rank - sparse
        dual += mu * gap
        mu *= rho
        if np.linalg.norm(gap) / norm_fro < tol:
            break
    return low_rank, sparse


def compute_backgrounds(
    images: np.ndarray, labels: list[str], classes: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """``{name: image}`` from training images ``(N, n_dm, n_dt)`` and their labels."""
    labels_array = np.asarray(labels)
    backgrounds = {"cadence": images.mean(axis=0)}
    medians = []
    for name in classes:
        median = np.median(images[labels_array == name], axis=0)
        backgrounds[f"class:{name}"] = median
        medians.append(median)
    backgrounds["max"] = np.max(medians, axis=0)
    low_rank, _ = robust_pca(images.reshape(len(images), -1).astype(np.float64))
    backgrounds["rpca"] = low_rank.mean(axis=0).reshape(images.shape[1:])
    return {name: image.astype(np.float32) for name, image in backgrounds.items()}
