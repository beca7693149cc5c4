"""The labelled Catalina (CSS) light curves and a reproducible split.

Files are ``<CSS_ID>-<CLASS>.csv``. The seven classes of :data:`training.paper.CLASSES` are
split, stratified by class with a fixed seed, into train / validation / test; every other
class (beta_lyrae, HADS, ELL, ...) forms the "other" set for out-of-distribution checks.
The split is a JSON file of file names, so any result can be reproduced from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from classifier.lightcurve import LightCurve
from classifier.readers import read_file
from training.paper import CLASSES

SPLITS = ("train", "val", "test", "other")


@dataclass(frozen=True)
class Example:
    name: str  # file name: the key of the split file
    label: str
    curve: LightCurve


@dataclass(frozen=True)
class Split:
    """File names per part; ``other`` holds the classes outside :data:`CLASSES`."""

    seed: int
    parts: dict[str, list[str]]

    @classmethod
    def make(
        cls,
        names_by_label: dict[str, str],
        seed: int = 2017,
        fractions: tuple[float, float] = (0.15, 0.15),
    ) -> Split:
        """Stratified split: ``fractions`` of each class go to validation and test."""
        rng = np.random.default_rng(seed)
        parts: dict[str, list[str]] = {part: [] for part in SPLITS}
        for label in sorted(set(names_by_label.values())):
            names = sorted(n for n, lab in names_by_label.items() if lab == label)
            if label not in CLASSES:
                parts["other"].extend(names)
                continue
            names = [names[i] for i in rng.permutation(len(names))]
            n_val = round(fractions[0] * len(names))
            n_test = round(fractions[1] * len(names))
            parts["val"].extend(names[:n_val])
            parts["test"].extend(names[n_val : n_val + n_test])
            parts["train"].extend(names[n_val + n_test :])
        return cls(seed, {part: sorted(names) for part, names in parts.items()})

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"seed": self.seed, "classes": list(CLASSES), **self.parts}, indent=0)
        )

    @classmethod
    def load(cls, path: Path) -> Split:
        data = json.loads(path.read_text())
        return cls(int(data["seed"]), {part: list(data[part]) for part in SPLITS})


def label_of(name: str) -> str:
    """The class in a CSS file name ``<CSS_ID>-<CLASS>.csv``."""
    stem = name.removesuffix(".csv")
    if "-" not in stem:
        raise ValueError(f"{name}: not a <CSS_ID>-<CLASS>.csv file name")
    return stem.split("-", 1)[1]


def list_css(data_dir: Path) -> dict[str, str]:
    """``{file name: class}`` of every CSS light curve under ``data_dir``."""
    files = sorted(data_dir.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no <CSS_ID>-<CLASS>.csv files in {data_dir}")
    return {path.name: label_of(path.name) for path in files}


def load_examples(data_dir: Path, names: list[str], desc: str = "reading") -> list[Example]:
    """Read the named files (their label from the name), with a progress bar."""
    examples = []
    for name in tqdm(names, desc=desc, unit="curve", leave=False):
        photometry = read_file(data_dir / name)[0]
        examples.append(Example(name, label_of(name), photometry.curve()))
    return examples
