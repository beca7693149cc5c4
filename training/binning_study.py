"""Binning (Mahabal et al. 2017, section 4): the study network trained on four grids, with
its accuracy and its cost per curve (building the image, and the network on it).

* ``crts``: the paper's 22 dm x 24 dt bins;
* ``scope``: ZTF SCoPe's 26 x 26;
* ``finer dm``: ``crts`` with every dm bin inside +/-1 mag split in two (32 x 24);
* ``fewer dt``: ``crts`` with every other dt edge dropped (22 x 12).

The paper found finer dm bins help a little and fewer dt bins do not hurt.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from classifier.grid import DmDtGrid
from training.paper import CLASSES
from training.study import StudyData, macro_f1, predict, train_net


def study_grids() -> dict[str, DmDtGrid]:
    """The four grids compared."""
    crts = DmDtGrid.preset("crts")
    fewer = np.concatenate([crts.dt_edges[:-1:2], crts.dt_edges[-1:]])
    return {
        "crts": crts,
        "scope": DmDtGrid.preset("scope"),
        "finer dm": DmDtGrid.preset("crts-fine-dm"),
        "fewer dt": DmDtGrid(crts.dm_edges, fewer),
    }


def _ms_per_curve(work, n: int, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return 1e3 * best / n


def binning_study(
    data: StudyData, crts: nn.Module, images_by_grid: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, float | str]]:
    """``{grid: {"shape", "macro_f1", "image_ms", "network_ms"}}`` on the test part;
    ``crts`` is the network already trained on the paper's grid, ``images_by_grid`` the
    images of each part on each of :func:`study_grids` (they do not depend on the seed)."""
    results: dict[str, dict[str, float | str]] = {}
    for name, grid in tqdm(study_grids().items(), desc="grids", leave=False):
        images = images_by_grid[name]
        model = (
            crts
            if name == "crts"
            else train_net(
                images["train"],
                data.labels["train"],
                images["val"],
                data.labels["val"],
                len(CLASSES),
                data.config,
                desc=name,
            )
        )
        n = len(data.curves["test"])
        with torch.no_grad():
            network_ms = _ms_per_curve(lambda m=model, x=images["test"]: predict(m, x), n)
        results[name] = {
            "shape": f"{grid.shape[0]} x {grid.shape[1]}",
            "macro_f1": macro_f1(data.labels["test"], predict(model, images["test"])),
            "image_ms": _ms_per_curve(lambda g=grid: data.images(g, "test"), n),
            "network_ms": network_ms,
        }
    return results
