"""EROS-1 LMC training curves (the folder's ``train`` part; ``test`` stays held out for
``dmdt evaluate``) as members of the CSS classes where the types map, so the model meets a
second real survey's photometry, depth and filters (B and R) during training.

An EROS type names a group of CSS classes (:data:`training.transfer.GROUPS`): its curves are
labelled with the group's set (``"EW|EA"``, trained with the partial-label loss); Mira is
LPV; Cepheids, outside the 7 classes, are ``other`` when the model has that class and are
left out otherwise.
"""

from __future__ import annotations

from pathlib import Path

from classifier.lightcurve import LightCurve
from training.label_sets import set_label
from training.other_class import OTHER
from training.transfer import GROUPS, ErosSet

BANDS = ("B", "R")


def eros_members(
    folder: Path, with_other: bool, limit: int | None = None
) -> tuple[list[LightCurve], list[str]]:
    """Every band's training curve of the EROS ``train`` part (at most ``limit`` a type and
    band), with its (set) label."""
    curves: list[LightCurve] = []
    labels: list[str] = []
    for found in ErosSet.load(folder, "train", BANDS, limit).values():
        for curve, kind in zip(found.curves, found.types, strict=True):
            if kind in GROUPS:
                label = set_label(GROUPS[kind])
            elif with_other:
                label = OTHER
            else:
                continue
            curves.append(curve)
            labels.append(label)
    return curves, labels
