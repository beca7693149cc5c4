"""``dmdt experiments``: the paper's experiments on the real data, one Markdown report with
PNG pictures. Each experiment can run alone (``--only``).

With the shipped models, on the test curves: robustness, the leakage audit (which inputs
encode the survey's cadence, and the models' scores at other surveys' cadences), saliency,
and a gallery of the most confident errors. Training new study networks on the split's curves
(:mod:`training.study_report`): binary pairs, background subtraction, binning, minority
classes, FGSM, and transfer to EROS-1."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifier.defaults import STUDY_SEEDS
from classifier.inference import OnnxClassifier
from classifier.registry import served_models
from training.dataset import Split, label_of, list_css, load_examples
from training.errors_gallery import confident_errors, gallery_figure
from training.leakage_report import leakage_section
from training.paper import CLASSES
from training.robustness import robustness
from training.saliency import class_maps, saliency_figure
from training.study import StudyData
from training.study_report import STUDIES, StudyRun
from training.tables import number_table

EXPERIMENTS = ("robustness", "leakage", "saliency", "errors", *STUDIES)
REPORT_ORDER = ("robustness", "leakage", "saliency", "errors", "training", *STUDIES)
GALLERY_SIZE = 8
SALIENCY_PER_CLASS = 40


def _bin(model: OnnxClassifier, saliency: np.ndarray) -> str:
    """The bin whose occlusion costs the most, as edge values."""
    i, j = np.unravel_index(saliency.argmax(), saliency.shape)
    dm, dt = model.bundle.grid.dm_edges, model.bundle.grid.dt_edges
    return f"dt {dt[j]:.3g}-{dt[j + 1]:.3g} d, dm {dm[i]:g} to {dm[i + 1]:g}"


def _test_examples(data_dir: Path, split_path: Path | None, limit: int | None):
    if split_path is not None and split_path.is_file():
        names = Split.load(split_path).parts["test"]
    else:  # no split: every file of the 7 classes in the folder
        names = sorted(n for n in list_css(data_dir) if label_of(n) in CLASSES)
    return load_examples(data_dir, names[:limit] if limit else names, desc="test curves")


def run_experiments(
    data_dir: Path,
    out_dir: Path,
    only: tuple[str, ...] = EXPERIMENTS,
    split_path: Path | None = None,
    limit: int | None = None,
    per_class: int | None = None,
    max_epochs: int | None = None,
    eros_dir: Path | None = None,
    seeds: int = STUDY_SEEDS,
) -> Path:
    """Run the chosen experiments; returns the report's path. ``per_class`` and
    ``max_epochs`` shrink the training experiments (quick runs, tests); ``transfer`` needs
    ``eros_dir``, the EROS-1 folder; ``seeds``: how many seeds a study variant trains with."""
    studies = tuple(name for name in STUDIES if name in only)
    if "transfer" in studies:
        if eros_dir is None:
            raise FileNotFoundError("the transfer experiment needs the EROS-1 folder: None")
        for name in ("train.csv", "test.csv"):
            if not (eros_dir / name).is_file():
                raise FileNotFoundError(f"the transfer experiment: no {eros_dir / name}")
    if studies and (split_path is None or not split_path.is_file()):
        raise FileNotFoundError(
            f"the experiments {list(studies)} train on a split's train/val/test parts: "
            f"no split file at {split_path}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    sections: dict[str, list[str]] = {}
    if set(only) - set(STUDIES):
        sections |= _shipped_model_sections(data_dir, out_dir, only, split_path, limit)
    if studies:
        assert split_path is not None  # checked above
        data = StudyData.load(data_dir, Split.load(split_path), per_class, max_epochs)
        sections |= StudyRun(data, out_dir, eros_dir, seeds).sections(studies)
    return _write_report(out_dir, sections)


def _write_report(out_dir: Path, sections: dict[str, list[str]]) -> Path:
    """Save each section, then assemble every saved one (this run's and earlier runs') in
    a fixed order, so that ``--only`` rewrites its sections and keeps the others."""
    saved = out_dir / "sections"
    saved.mkdir(exist_ok=True)
    for name, lines in sections.items():
        (saved / f"{name}.md").write_text("\n".join(lines))
    parts = ["# dmdt-stream experiments", ""]
    for name in REPORT_ORDER:
        if (saved / f"{name}.md").is_file():
            parts += [(saved / f"{name}.md").read_text(), ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(parts))
    return report


def _shipped_model_sections(
    data_dir: Path,
    out_dir: Path,
    only: tuple[str, ...],
    split_path: Path | None,
    limit: int | None,
) -> dict[str, list[str]]:
    examples = _test_examples(data_dir, split_path, limit)
    curves, labels = [e.curve for e in examples], [e.label for e in examples]
    names = [e.name for e in examples]
    served = served_models()
    models = list(served.models.values())
    data = f"{len(curves)} test curves from `{data_dir}`"
    sections = {}
    if "robustness" in only:
        scores, picture = robustness(models, curves, labels, out_dir)
        cases = list(next(iter(scores.values())))
        sections["robustness"] = [
            "## Robustness",
            "",
            "The paper warns that small changes can fool a CNN. Macro-F1 of each shipped model,",
            f"clean and under each perturbation ({data}; seeded; `training/robustness.py`):",
            "",
            *number_table(
                "model", cases, {name: [by[c] for c in cases] for name, by in scores.items()}
            ),
            "",
            f"![robustness]({picture.name})",
        ]
    if "leakage" in only:
        default_first = [
            served.default_model,
            *(m for m in models if m is not served.default_model),
        ]
        sections["leakage"] = leakage_section(default_first, curves, labels, out_dir, data)
    if "saliency" in only:
        lines = [
            "## What the network looks at",
            "",
            "Occlusion saliency: each dm-dt bin zeroed in turn, the drop in the true class's",
            f"probability, averaged over up to {SALIENCY_PER_CLASS} test curves a class",
            f"({data}; `training/saliency.py`; the hybrid's features held fixed).",
            "",
        ]
        for model in models:
            maps = class_maps(model, curves, labels, SALIENCY_PER_CLASS)
            picture = saliency_figure(maps, model, out_dir / f"saliency_{model.bundle.name}.png")
            peaks = "; ".join(f"{label} {_bin(model, m)}" for label, m in sorted(maps.items()))
            lines += [
                f"![{model.bundle.name}]({picture.name})",
                "",
                f"Most telling bin: {peaks}.",
                "",
            ]
        sections["saliency"] = lines
    if "errors" in only:
        model = served.default_model
        errors = confident_errors(model, curves, labels, names, GALLERY_SIZE)
        gallery = (
            gallery_figure(model, errors, out_dir / "confident_errors.png") if errors else None
        )
        sections["errors"] = [
            "## The most confident errors",
            "",
            f"{model.bundle.name}'s {len(errors)} most confident wrong answers ({data}):",
            "",
            "| file | catalogue | called | confidence |",
            "|---|---|---|---:|",
            *(
                f"| {e['name']} | {e['truth']} | {e['predicted']} | {e['confidence']:.2f} |"
                for e in errors
            ),
            "",
            f"![errors]({gallery.name})" if gallery else "(no errors)",
        ]
    return sections
