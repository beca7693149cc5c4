"""The training experiments' sections of the ``dmdt experiments`` report: each trains
study networks (:mod:`training.study`) and writes its table, picture and the paper's
statement beside our figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from torch import nn

from classifier.grid import DmDtGrid
from classifier.registry import served_models
from training.adversarial import EPSILONS, fgsm_figure, fgsm_study, median_occupied
from training.background_study import background_study, composite_figure
from training.binary import POINTS, binary_study, pair_figure, points_figure
from training.binning_study import binning_study, study_grids
from training.minority import METHODS, minority_study
from training.paper import CLASSES
from training.study import PARTS, StudyData, over_seeds, predict, scores, train_net
from training.tables import number_table
from training.transfer import (
    FRACTIONS,
    REPEATS,
    ErosSet,
    cadence_study,
    fine_tune_study,
    shipped_on_eros,
)

STUDIES = ("binary", "backgrounds", "binning", "minority", "fgsm", "transfer")
HARD = ("RRc", "RRd", "LPV", "RS_CVn")


class StudyRun:
    """The study data, its crts images and the 7-class baseline networks (one per seed,
    trained on first use, and shared by every study).

    The variant studies (backgrounds, binning, minority) and FGSM run once per seed and
    report the mean with the lowest and highest macro-F1; binary pairs and transfer, whose
    differences are large or already repeated, run on the first seed.
    """

    def __init__(
        self, data: StudyData, out_dir: Path, eros_dir: Path | None = None, seeds: int = 1
    ) -> None:
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        self.data, self.out_dir, self.eros_dir = data, out_dir, eros_dir
        self.seeds = tuple(data.config.seed + i for i in range(seeds))
        self.grid = DmDtGrid.preset("crts")
        self.images = {part: data.images(self.grid, part) for part in PARTS}
        self._baselines: dict[int, nn.Module] = {}

    def seeded(self, seed: int) -> StudyData:
        """The study data with every network seeded from ``seed``."""
        return replace(self.data, config=replace(self.data.config, seed=seed))

    def baseline(self, seed: int | None = None) -> nn.Module:
        """The 7-class network on crts images, seeded from ``seed`` (default: the first)."""
        seed = self.seeds[0] if seed is None else seed
        if seed not in self._baselines:
            self._baselines[seed] = train_net(
                self.images["train"],
                self.data.labels["train"],
                self.images["val"],
                self.data.labels["val"],
                len(CLASSES),
                self.seeded(seed).config,
                desc=f"7-class baseline (seed {seed})",
            )
        return self._baselines[seed]

    def baseline_scores(self, seed: int | None = None) -> dict:
        return scores(self.data.labels["test"], predict(self.baseline(seed), self.images["test"]))

    def _over_seeds(self, study: Callable[[StudyData, int], dict[str, dict]]) -> dict[str, dict]:
        """``study(seeded data, seed)`` for every seed, combined."""
        return over_seeds([study(self.seeded(seed), seed) for seed in self.seeds])

    def _seed_note(self) -> str:
        if len(self.seeds) == 1:
            return f"one seed ({self.seeds[0]})."
        return (
            f"the mean of {len(self.seeds)} seeds ({', '.join(map(str, self.seeds))}; initial "
            "weights and shuffles), with the lowest and highest macro-F1 in brackets."
        )

    def sections(self, only: tuple[str, ...]) -> dict[str, list[str]]:
        """``{name: Markdown lines}``: an introduction (``training``) and each study asked."""
        counts = {p: len(self.data.curves[p]) for p in PARTS}
        intro = [
            "## Training experiments",
            "",
            "Each trains the study network (`training/study.py`: the shipped image CNN with",
            "narrower convolutions, full curves, no partial views, class-weighted loss,",
            f"early stopping on validation) on {counts['train']} training curves, with",
            f"{counts['val']} for validation and {counts['test']} for test, changing one thing",
            "at a time. Its figures compare variants, not the shipped models.",
            f"Backgrounds, binning, minority and FGSM: {self._seed_note()} Binary pairs and",
            f"transfer: seed {self.seeds[0]}.",
        ]
        writers: dict[str, Callable[[], list[str]]] = {
            "binary": self._binary,
            "backgrounds": self._backgrounds,
            "binning": self._binning,
            "minority": self._minority,
            "fgsm": self._fgsm,
            "transfer": self._transfer,
        }
        return {"training": intro} | {name: writers[name]() for name in STUDIES if name in only}

    def _binary(self) -> list[str]:
        result = binary_study(self.data, self.grid, self.images, self.baseline())
        pairs = pair_figure(result, self.out_dir / "binary_pairs.png")
        points = points_figure(result, self.out_dir / "binary_points.png")
        upper = result.pair_accuracy[np.triu_indices(len(CLASSES), 1)]
        upper7 = result.pair_accuracy_7class[np.triu_indices(len(CLASSES), 1)]
        ew, lpv = CLASSES.index("EW"), CLASSES.index("LPV")
        ticks = [str(k) if k else "all" for k in POINTS]
        return [
            "### Binary mode",
            "",
            "The paper: EW overwhelms the other classes in pairs; LPV vs EW reaches 89%;",
            "binary classifiers may beat the 7-class one on short light curves.",
            "",
            f"Ours: mean pair accuracy {np.nanmean(upper):.3f} with a network per pair,",
            f"{np.nanmean(upper7):.3f} asking the 7-class network the same question;",
            f"LPV vs EW {result.pair_accuracy[ew, lpv]:.3f}",
            f"({result.pair_accuracy_7class[ew, lpv]:.3f} from the 7-class network). With",
            "class-weighted training, EW does not overwhelm its partners.",
            "",
            f"![pairs]({pairs.name})",
            "",
            "Mean pair accuracy on the first k points of each test curve:",
            "",
            *number_table("networks", ticks, result.by_points),
            "",
            f"![points]({points.name})",
            "",
            "One class against the rest, test balanced accuracy:",
            "",
            "| class | its own network | the 7-class network |",
            "|---|---:|---:|",
            *(
                f"| {c} | {own:.3f} | {seven:.3f} |"
                for c, (own, seven) in result.one_vs_rest.items()
            ),
            "",
        ]

    def _backgrounds(self) -> list[str]:
        results = self._over_seeds(
            lambda data, seed: background_study(data, self.images, self.baseline_scores(seed))
        )
        picture = composite_figure(
            self.images["train"],
            self.data.labels["train"],
            self.grid,
            self.out_dir / "background_composite.png",
        )
        return [
            "### Background subtraction",
            "",
            "The paper subtracts backgrounds to reveal each class's signature (Fig. 2) and",
            "suggests it for transfer between surveys. Trained and tested on images minus",
            "each background (`training/background_study.py`):",
            "",
            *_variant_table("background subtracted", results),
            f"![composite]({picture.name})",
            "",
        ]

    def _binning(self) -> list[str]:
        images_by_grid = {
            name: self.images
            if name == "crts"
            else {part: self.data.images(grid, part) for part in PARTS}
            for name, grid in study_grids().items()
        }
        results = self._over_seeds(
            lambda data, seed: binning_study(data, self.baseline(seed), images_by_grid)
        )
        return [
            "### Binning",
            "",
            "The paper: finer dm bins help a little; fewer dt bins do not hurt.",
            "",
            "| grid | bins | test macro-F1 | image ms/curve | network ms/curve |",
            "|---|---|---:|---:|---:|",
            *(
                f"| {name} | {r['shape']} | {_f1_cell(r)} | {r['image_ms']:.3f} "
                f"| {r['network_ms']:.4f} |"
                for name, r in results.items()
            ),
            "",
        ]

    def _minority(self) -> list[str]:
        results = self._over_seeds(
            lambda data, seed: minority_study(
                data, self.grid, self.images, self.baseline_scores(seed)
            )
        )
        return [
            "### Minority classes",
            "",
            "The paper augmented the small classes by resampling magnitudes within their",
            f"error bars and found it did not help. Ours ({', '.join(METHODS)};",
            "`training/minority.py`):",
            "",
            *_variant_table("training", results),
        ]

    def _fgsm(self) -> list[str]:
        runs = [
            fgsm_study(self.baseline(seed), self.images["test"], self.data.labels["test"], seed)
            for seed in self.seeds
        ]
        by_step = {kind: list(np.mean([run[kind] for run in runs], axis=0)) for kind in runs[0]}
        scale = median_occupied(self.images["test"])
        picture = fgsm_figure(by_step, self.out_dir / "fgsm.png")
        return [
            "### Adversarial images (FGSM)",
            "",
            "The paper warns that a CNN can be fooled by small, deliberate changes. Test",
            "macro-F1 of the 7-class study network, each image moved by eps in the sign of",
            "the loss gradient, against a random sign of the same size. The median occupied",
            f"bin of a test image holds {scale:.2g} (image units):",
            "",
            *number_table("step", [f"{e:g}" for e in EPSILONS], by_step),
            "",
            f"![fgsm]({picture.name})",
            "",
        ]

    def _transfer(self) -> list[str]:
        assert self.eros_dir is not None
        per_type = self.data.per_class
        test = ErosSet.load(self.eros_dir, "test", ("B", "R"), per_type)
        shipped = list(served_models().models.values())
        rows = [
            (model.bundle.name, band, shipped_on_eros(model, eros))
            for model in shipped
            for band, eros in test.items()
        ]
        cadence = cadence_study(self.data, self.images, test["R"], self.grid, self.baseline())
        train = ErosSet.load(self.eros_dir, "train", ("R",), per_type)["R"]
        tuned = fine_tune_study(self.baseline(), train, test["R"], self.grid, self.data.config)
        counts = ", ".join(f"{t} {test['R'].types.count(t)}" for t in sorted(set(test["R"].types)))
        return [
            "### Transfer to another survey (CSS -> EROS-1 LMC)",
            "",
            "The paper moved its CRTS network to PTF and suggested survey-specific cadence",
            "backgrounds for transfer. EROS test curves (R band: " + counts + ").",
            "A call is right when it falls in its type's CSS group (binary: EW/EA; RR Lyrae:",
            "RRab/RRc/RRd; Mira: LPV); Cepheids have no CSS class (`training/transfer.py`).",
            "",
            "| model | band | group accuracy | Cepheids flagged unknown | known types flagged "
            "unknown | Cepheid vs known, ROC AUC of low confidence |",
            "|---|---|---:|---:|---:|---:|",
            *(
                f"| {name} | {band} | {r['group_accuracy']:.3f} | {r['unknown_cepheids']:.3f} "
                f"| {r['unknown_known']:.3f} | {r.get('cepheid_auc', float('nan')):.3f} |"
                for name, band, r in rows
            ),
            "",
            "The study network on EROS R, group accuracy, with each survey's cadence background:",
            "",
            "| images | group accuracy |",
            "|---|---:|",
            *(f"| {name} | {value:.3f} |" for name, value in cadence.items()),
            "",
            f"Labels of EROS's own 4 types (R band), test macro-F1, mean of {REPEATS} draws:",
            "",
            *number_table(
                "network",
                [f"{f:.0%} of labels" for f in FRACTIONS],
                {arm: [by[f] for f in FRACTIONS] for arm, by in tuned.items()},
            ),
            "",
        ]


def _variant_table(what: str, results: dict[str, dict]) -> list[str]:
    """Macro-F1 and the hard classes' recall, one row a variant."""
    hard = [c for c in HARD if c in next(iter(results.values()))["recall"]]
    return [
        f"| {what} | test macro-F1 | " + " | ".join(f"{c} recall" for c in hard) + " |",
        "|---|---:|" + "---:|" * len(hard),
        *(
            f"| {name} | {_f1_cell(r)} | "
            + " | ".join(f"{r['recall'][c]:.3f}" for c in hard)
            + " |"
            for name, r in results.items()
        ),
        "",
    ]


def _f1_cell(result: dict) -> str:
    """The macro-F1, with its lowest and highest over seeds where there were several."""
    low, high = result.get("macro_f1_range", (None, None))
    if low is None or low == high:
        return f"{result['macro_f1']:.3f}"
    return f"{result['macro_f1']:.3f} ({low:.3f}-{high:.3f})"
