"""The training data of the class ``other``: what is not one of the 7 periodic classes.

Four real or real-cadence sources, each split by a hash of the object's name
(:func:`training.nonmembers.part_of`, so the held-out parts are never trained on):

* the CSS classes outside the 7 (beta Lyrae, HADS, ELL, type II Cepheids, PCEB, Blazhko
  RR Lyrae, ...), real CSS curves;
* real supernovae and other transients (Open Supernova Catalog), when a folder is given;
* real quasars (Gaia DR3), when a folder is given (at most ``quasar_limit`` a part);
* constant stars: the times and errors of real CSS curves of the part, with a constant
  magnitude plus Gaussian noise of each point's error (a non-variable star at CSS cadence;
  the cadence views then carry it to the other surveys).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.lightcurve import LightCurve
from training.dataset import Split, load_examples
from training.nonmembers import part_of, quasars, transients

OTHER = "other"
CONSTANT_SHARE = 0.15  # constant stars made, per member curve of the part


@dataclass(frozen=True)
class OtherSources:
    """Where the non-members come from (the CSS folder's other classes always)."""

    transients: Path | None = None
    quasars: Path | None = None
    quasar_limit: int | None = 2000  # at most this many quasars a part
    transient_limit: int | None = None  # at most this many transients a part


def constant_stars(
    curves: Sequence[LightCurve], share: float, rng: np.random.Generator
) -> list[LightCurve]:
    """``share`` of ``curves`` as constant stars: their times and errors, a constant
    magnitude (their median) plus noise of each point's error (0.05 mag where none)."""
    chosen = rng.choice(len(curves), round(share * len(curves)), replace=False)
    stars = []
    for i in sorted(chosen):
        curve = curves[i]
        err = np.full(len(curve), 0.05) if curve.err is None else curve.err
        mag = float(np.median(curve.mag)) + rng.normal(0.0, 1.0, len(curve)) * err
        stars.append(LightCurve(curve.t, mag, curve.err, curve.band, f"constant-{curve.object_id}"))
    return stars


def other_curves(
    part: str,
    split: Split,
    data_dir: Path,
    members: Sequence[LightCurve],
    sources: OtherSources,
    seed: int,
) -> dict[str, list[LightCurve]]:
    """The ``other`` curves of one part (``train``, ``val`` or ``test``), by source."""
    css_names = [name for name in split.parts["other"] if part_of(name) == part]
    found = {
        "css-other-classes": [e.curve for e in load_examples(data_dir, css_names, f"{part} other")],
        "constant": constant_stars(members, CONSTANT_SHARE, np.random.default_rng([seed, 3])),
    }
    if sources.transients is not None:
        held = itertools.islice(transients(sources.transients, part), sources.transient_limit)
        found["transients"] = [m.curve for m in held]
    if sources.quasars is not None:
        held = itertools.islice(quasars(sources.quasars, part), sources.quasar_limit)
        found["quasars"] = [m.curve for m in held]
    return found
