"""The evaluation report: PNG pictures and ``summary.md``, from ``evaluation.json``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from classifier.bundle import load_bundle
from training.evaluate import POINTS, SHORT
from training.paper import CLASSES, DRAKE_CODES, PAPER_ACCURACY, PAPER_RECALL

TARGET_MACRO_F1 = 0.80
TARGET_PARTIAL_RATIO = 0.8  # macro-F1 at 20 points >= 0.8 x the full-curve macro-F1


def _axis_labels() -> list[str]:
    return [f"{DRAKE_CODES[c]} {c}" for c in CLASSES]


def confusion_figure(metrics: dict, name: str, path: Path) -> None:
    rows = np.array(metrics["confusion_row_normalised"]) * 100
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 5.6), layout="constrained", gridspec_kw={"width_ratios": [1.15, 1]}
    )
    shown = left.imshow(rows, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            left.text(
                j,
                i,
                f"{rows[i, j]:.0f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if rows[i, j] > 55 else "black",
            )
    left.set_xticks(range(len(CLASSES)), _axis_labels(), rotation=45, ha="right")
    left.set_yticks(range(len(CLASSES)), _axis_labels())
    left.set_xlabel("predicted class (Drake code)")
    left.set_ylabel("true class (Drake code)")
    left.set_title(f"{name}: test split, row-normalised (%)")
    fig.colorbar(shown, ax=left, shrink=0.8)
    x = np.arange(len(CLASSES))
    ours = np.diag(rows)
    right.bar(x - 0.2, ours, 0.4, label=f"{name} (this work)")
    right.bar(x + 0.2, [PAPER_RECALL[c] for c in CLASSES], 0.4, label="Mahabal et al. 2017, Fig. 3")
    for i, value in enumerate(ours):
        right.text(i - 0.2, value + 1, f"{value:.0f}", ha="center", fontsize=8)
    right.set_xticks(x, _axis_labels(), rotation=45, ha="right")
    right.set_ylim(0, 105)
    right.set_ylabel("recall: diagonal of the confusion matrix (%)")
    right.set_title("per-class recall beside the paper's")
    right.legend(loc="lower left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def points_figure(results: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    labels = [str(k) if k else "all" for k in POINTS]
    for name, metrics in results["models"].items():
        values = [metrics["macro_f1_by_points"][f"first_{k}" if k else "all"] for k in POINTS]
        ax.plot(labels, values, marker="o", label=name)
    ax.axhline(TARGET_MACRO_F1, color="grey", linestyle=":", label="target 0.80 (all points)")
    ax.set_xlabel("points used (the first k, in time order)")
    ax.set_ylabel("test macro-F1")
    ax.set_ylim(0, 1)
    ax.set_title("Partial light curves: macro-F1 against the number of points")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_figure(metrics: dict, name: str, path: Path) -> None:
    data = metrics["reliability"]
    correct = np.array(data["correct"], dtype=float)
    edges = np.linspace(0, 1, 11)
    fig, ax = plt.subplots(figsize=(5.8, 5.2), layout="constrained")
    for key, label in (
        ("confidence_raw", f"before: ECE {metrics['ece_before_temperature']:.3f}"),
        ("confidence", f"temperature-scaled: ECE {metrics['ece']:.3f}"),
    ):
        confidence = np.array(data[key])
        which = np.clip(np.digitize(confidence, edges[1:-1]), 0, 9)
        xs, ys = [], []
        for b in range(10):
            inside = which == b
            if inside.sum() >= 5:
                xs.append(confidence[inside].mean())
                ys.append(correct[inside].mean())
        ax.plot(xs, ys, marker="o", label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{name}: reliability on the test split")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def comparison_figure(results: dict, path: Path) -> None:
    names = list(results["models"])
    keys = ("macro_f1", "balanced_accuracy", "accuracy", "reweighted_accuracy")
    fig, ax = plt.subplots(figsize=(8.5, 4.6), layout="constrained")
    x = np.arange(len(names))
    for i, key in enumerate(keys):
        values = [results["models"][n][key] for n in names]
        ax.bar(x + (i - 1.5) * 0.2, values, 0.2, label=key.replace("_", " "))
    ax.axhline(PAPER_ACCURACY, color="grey", linestyle=":", label="paper accuracy 0.83")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1)
    ax.set_title("Test split: CNNs, hybrid and random forest")
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def backgrounds_figure(bundle_dir: Path, path: Path) -> None:
    bundle = load_bundle(bundle_dir)
    names = list(bundle.backgrounds)
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), layout="constrained")
    for ax, name in zip(axes.ravel(), names, strict=False):
        ax.imshow(bundle.backgrounds[name], origin="lower", aspect="auto", cmap="viridis")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.suptitle("Backgrounds on the training set (rows: dm, columns: dt; fraction of pairs)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _table(results: dict) -> list[str]:
    lines = [
        "| model | validation macro-F1 | test macro-F1 | balanced acc. | accuracy | "
        "acc. at paper's class mix | macro-F1 at 20 points | ECE | unknown AUC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in results["models"].items():
        lines.append(
            f"| {name} | {m['validation_macro_f1']:.3f} | {m['macro_f1']:.3f} | "
            f"{m['balanced_accuracy']:.3f} | {m['accuracy']:.3f} | {m['reweighted_accuracy']:.3f}"
            f" | {m['macro_f1_by_points']['first_20']:.3f} | {m['ece']:.3f} | "
            f"{m['unknown']['roc_auc']:.3f} |"
        )
    return lines


def _cadence_table(results: dict) -> list[str]:
    """Test macro-F1 at each other survey's simulated cadence (runs evaluated before the
    cadence views existed have none)."""
    rows = {
        n: m["macro_f1_by_cadence"]
        for n, m in results["models"].items()
        if "macro_f1_by_cadence" in m
    }
    if not rows:
        return []
    cadences = list(next(iter(rows.values())))
    return [
        "## At other surveys' cadences",
        "",
        "Test macro-F1 with the test curves as each other survey would have sampled them "
        "(`training/cadences.py`: real points only, that survey's errors):",
        "",
        "| model | CSS | " + " | ".join(cadences) + " |",
        "|---|---:|" + "---:|" * len(cadences),
        *(
            f"| {name} | {results['models'][name]['macro_f1']:.3f} | "
            + " | ".join(f"{by[c]:.3f}" for c in cadences)
            + " |"
            for name, by in rows.items()
        ),
        "",
    ]


def _model_rows(results: dict, key: str) -> list[tuple[str, str, dict]]:
    """(model, name, entry) for each entry of every model's ``key`` mapping (none where a
    model's evaluation has no ``key``)."""
    return [
        (model, name, entry)
        for model, metrics in results["models"].items()
        for name, entry in metrics.get(key, {}).items()
    ]


def _nonmember_table(results: dict) -> list[str]:
    """Held-out real non-members (transients, quasars), when the evaluation had them."""
    rows = _model_rows(results, "nonmembers")
    if not rows:
        return []
    return [
        "## Real curves outside the 7 classes",
        "",
        "Held-out real transients (Open Supernova Catalog) and quasars (Gaia DR3): the share",
        "flagged unknown at the card's threshold, the share answered `other` or flagged (models",
        "with the class `other`), the share rejected when 5% of the CSS test",
        "curves are, the ROC AUC of 1 - top probability against the CSS test curves, and the",
        "median top probability given to them:",
        "",
        "| model | set | n | flagged unknown | answered other or unknown | rejected at 5% false "
        "rejection | ROC AUC | median confidence |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {model} | {name} | {m['n']} | {m.get('flagged_other', float('nan')):.3f} | "
            f"{m.get('answered_other_or_unknown_other', float('nan')):.3f} | "
            f"{m['rejected_at_5pct']:.3f} | {m['roc_auc']:.3f} | "
            f"{m['median_confidence_other']:.2f} |"
            for model, name, m in rows
        ),
        "",
    ]


def _eros_table(results: dict) -> list[str]:
    """EROS-1's held-out test part (another survey), when the evaluation had it."""
    rows = [(n, m["eros"]) for n, m in results["models"].items() if m.get("eros")]
    if not rows:
        return []
    bands = sorted(rows[0][1])
    return [
        "## EROS-1, another survey",
        "",
        "Group accuracy on the EROS-1 LMC test curves (binary -> EW/EA, RR Lyrae -> RRab/RRc/",
        "RRd, Mira -> LPV; the mean over the three types) and the share of Cepheids (no CSS",
        "class) answered `other` or flagged unknown. The test part is never trained on; a model",
        "trained with `dmdt train --eros` has seen the train part (its card's training data):",
        "",
        "| model | "
        + " | ".join(f"{b} group accuracy | {b} Cepheids rejected" for b in bands)
        + " |",
        "|---|" + "---:|---:|" * len(bands),
        *(
            f"| {name} | "
            + " | ".join(
                f"{by[b]['group_accuracy']:.3f} | {by[b]['cepheids_other_or_unknown']:.3f}"
                for b in bands
            )
            + " |"
            for name, by in rows
        ),
        "",
    ]


LENGTHS = ("all", *(f"first_{k}" for k in sorted(SHORT, reverse=True)))  # whole, 50, 20
LENGTH_LABELS = tuple("whole" if k == "all" else k.replace("_", " ") for k in LENGTHS)
# issue 15's targets, drawn on the panels of :func:`lengths_figure`
LENGTH_TARGETS = {
    "macro-F1": ((0.80, "target at every cadence"),),
    "EROS-1 group accuracy": ((0.85, "target"),),
    "answered other or unknown": ((0.95, "target, non-members"), (0.05, "most, CSS test")),
}


def _rejected_whole(separation: dict, which: str) -> float:
    """The share of ``which`` (``known``: the CSS test curves; ``other``: the set measured
    against them) answered ``other`` or flagged unknown at the card's threshold (a model
    without ``other``: flagged), from :func:`training.metrics.unknown_separation`."""
    answered = separation.get(f"answered_other_or_unknown_{which}")
    return separation.get(f"flagged_{which}", 0.0) if answered is None else answered


def by_length(metrics: dict) -> dict[str, dict[str, list[float]]]:
    """One model's rows of issue 15's evaluation, each whole and at its first 50 and 20
    points (the order of :data:`LENGTHS`), by kind: ``macro-F1`` (CSS test, each cadence),
    ``EROS-1 group accuracy`` (by band), ``answered other or unknown`` (CSS test at CSS's
    and each cadence, each non-member set). Empty for evaluations made before the cut sets
    existed."""
    short = metrics.get("at_first_points")
    if not short:
        return {}
    cut = [short[length] for length in LENGTHS[1:]]
    f1 = {"CSS test": [metrics["macro_f1_by_points"][length] for length in LENGTHS]}
    for name, whole in metrics.get("macro_f1_by_cadence", {}).items():
        f1[f"CSS test at {name} cadence"] = [whole, *(c["macro_f1_by_cadence"][name] for c in cut)]
    eros = {
        f"EROS-1 {band}": [whole["group_accuracy"], *(c["eros_group_accuracy"][band] for c in cut)]
        for band, whole in metrics.get("eros", {}).items()
    }
    rejected = {"CSS test (7 classes)": [_rejected_whole(metrics["unknown"], "known")]}
    rejected["CSS test (7 classes)"] += [c["css_rejected"] for c in cut]
    for name, whole in metrics.get("answers_by_cadence", {}).items():
        rejected[f"CSS test at {name} cadence"] = [
            whole["rejected"],
            *(c["cadence_rejected"][name] for c in cut),
        ]
    for name, whole in metrics.get("nonmembers", {}).items():
        rejected[f"held-out {name}"] = [
            _rejected_whole(whole, "other"),
            *(c["nonmembers_rejected"][name] for c in cut),
        ]
    found = {"macro-F1": f1, "EROS-1 group accuracy": eros, "answered other or unknown": rejected}
    return {kind: rows for kind, rows in found.items() if rows}


def _lengths_table(results: dict) -> list[str]:
    """Issue 15's rows for every model, whole and at their first 50 and 20 points."""
    rows = [
        (model, kind, name, values)
        for model, metrics in results["models"].items()
        for kind, by in by_length(metrics).items()
        for name, values in by.items()
    ]
    if not rows:
        return []
    return [
        "## Whole curves and their first 50 and 20 points",
        "",
        "Every set above, whole and cut to its first k points in time order (a curve with",
        "fewer points stays whole; a cadence view is cut after the survey's sampling):",
        "",
        "| model | measure | set | " + " | ".join(LENGTH_LABELS) + " |",
        "|---|---|---|" + "---:|" * len(LENGTH_LABELS),
        *(
            f"| {model} | {kind} | {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |"
            for model, kind, name, values in rows
        ),
        "",
    ]


def _cadence_answers_table(results: dict) -> list[str]:
    """What each model answers for the 7 classes' curves at each other cadence."""
    rows = _model_rows(results, "answers_by_cadence")
    if not rows:
        return []

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    return [
        "## The 7 classes at other cadences: what the answers are",
        "",
        "The CSS test curves (all of the 7 classes) as each survey would sample them: the",
        "share answered `other`, the share flagged unknown (and not `other`), and the accuracy",
        "of the answers that are neither:",
        "",
        "| model | cadence | answered other | flagged unknown | accepted | accuracy of accepted |",
        "|---|---|---:|---:|---:|---:|",
        *(
            f"| {model} | {name} | {found['answered_other']:.3f} | "
            f"{found['rejected'] - found['answered_other']:.3f} | {1 - found['rejected']:.3f} | "
            f"{share(found['accepted_accuracy'])} |"
            for model, name, found in rows
        ),
        "",
    ]


def lengths_figure(metrics: dict, name: str, path: Path) -> bool:
    """One panel a measure of :func:`by_length`, a line a set; False when there is none."""
    kinds = by_length(metrics)
    if not kinds:
        return False
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 5.6), layout="constrained")
    for ax, (kind, rows) in zip(np.atleast_1d(axes), kinds.items(), strict=True):
        for row, values in rows.items():
            ax.plot(LENGTH_LABELS, values, marker="o", label=row)
        for value, target in LENGTH_TARGETS[kind]:
            ax.axhline(value, color="grey", linestyle=":", linewidth=1)
            ax.annotate(target, (0, value), xytext=(2, 2), textcoords="offset points", fontsize=7)
        ax.set(ylim=(0, 1.02), title=kind, xlabel="points used")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.suptitle(f"{name}: where it holds, whole curves and their first points")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _how_shipped(results: dict) -> str:
    if results.get("shipped_by") == "named":  # a run of installed bundles
        return (
            "Installed bundles measured side by side (`dmdt evaluate --bundles`); the report "
            "leads with the first named."
        )
    return (
        "The shipped model is the network with the best validation macro-F1; the test split "
        "only reports."
    )


def write_report(results: dict, run_dir: Path, out_dir: Path) -> Path:
    """All pictures and ``summary.md`` into ``out_dir``; returns the summary's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shipped = results["shipped"]
    named = results.get("shipped_by") == "named"
    best = results["models"][shipped]
    confusion_figure(best, shipped, out_dir / "confusion.png")
    points_figure(results, out_dir / "macro_f1_by_points.png")
    reliability_figure(best, shipped, out_dir / "reliability.png")
    comparison_figure(results, out_dir / "models.png")
    backgrounds_figure(run_dir / "candidates" / shipped, out_dir / "backgrounds.png")
    lengths = lengths_figure(best, shipped, out_dir / "by_length.png")

    forest = results["models"].get("forest")
    recall = {c: 100 * best["per_class"][c]["recall"] for c in CLASSES}
    at_20 = best["macro_f1_by_points"]["first_20"]
    checks = [
        (
            f"test macro-F1 >= {TARGET_MACRO_F1}",
            best["macro_f1"] >= TARGET_MACRO_F1,
            f"{best['macro_f1']:.3f}",
        ),
        (
            "every class's recall above the paper's diagonal",
            all(recall[c] > PAPER_RECALL[c] for c in CLASSES),
            ", ".join(f"{c} {recall[c]:.0f} vs {PAPER_RECALL[c]}" for c in CLASSES),
        ),
        (
            "at least as good as the random forest (test macro-F1)",
            forest is None or best["macro_f1"] >= forest["macro_f1"],
            "no forest"
            if forest is None
            else f"{best['macro_f1']:.3f} vs {forest['macro_f1']:.3f}",
        ),
        (
            f"macro-F1 at 20 points >= {TARGET_PARTIAL_RATIO} x full",
            at_20 >= TARGET_PARTIAL_RATIO * best["macro_f1"],
            f"{at_20:.3f} vs {TARGET_PARTIAL_RATIO * best['macro_f1']:.3f}",
        ),
    ]
    lines = [
        f"# Evaluation: {shipped} ({'first named' if named else 'shipped'}) and the other "
        "candidates",
        "",
        f"Test split: {results['test_size']} CSS light curves of the 7 classes of Mahabal et al."
        f" (2017); 'other' set: {results['other_size']} curves of "
        f"{', '.join(results['other_classes'])}. " + _how_shipped(results),
        "",
        "## Targets",
        "",
        "| target | met | figure |",
        "|---|---|---|",
        *[f"| {what} | {'yes' if ok else 'NO'} | {figure} |" for what, ok, figure in checks],
        "",
        "## All candidates",
        "",
        *_table(results),
        "",
        "'acc. at paper's class mix' reweights per-class recall to the paper's sample "
        "(EW 30743, EA 4683, RRab 2420, RRc 5469, RRd 502, RS CVn 1522, LPV 512); the paper "
        f"reports {PAPER_ACCURACY:.2f} accuracy on that mix. 'unknown AUC' is the ROC AUC of "
        "1 - top probability separating the 'other' classes from the test split.",
        "",
        *_cadence_table(results),
        *_nonmember_table(results),
        *_eros_table(results),
        *_lengths_table(results),
        *_cadence_answers_table(results),
        "## Pictures",
        "",
        *(["![whole curves and their first points](by_length.png)", ""] if lengths else []),
        "![confusion matrix](confusion.png)",
        "",
        "![macro-F1 by points](macro_f1_by_points.png)",
        "",
        "![reliability](reliability.png)",
        "",
        "![models](models.png)",
        "",
        "![backgrounds](backgrounds.png)",
        "",
        "## Per-class scores of the shipped model (test)",
        "",
        "| class (code) | precision | recall | F1 | support | paper recall |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {c} ({DRAKE_CODES[c]}) | {best['per_class'][c]['precision']:.2f} | "
            f"{best['per_class'][c]['recall']:.2f} | {best['per_class'][c]['f1']:.2f} | "
            f"{best['per_class'][c]['support']} | {PAPER_RECALL[c] / 100:.2f} |"
            for c in CLASSES
        ],
        "",
        "With decisions shifted to the paper's class prior (Bayes: p(c|x) x prior_paper(c) / "
        "prior_train(c)), the recall the paper's Fig. 3 measured under its own prior: "
        + ", ".join(f"{c} {100 * best['at_paper_prior']['recall'][c]:.0f}" for c in CLASSES)
        + f" (accuracy at the paper's mix {best['at_paper_prior']['reweighted_accuracy']:.3f}).",
        "",
        f"Unknown flag of the shipped model (top probability below the card's threshold): "
        f"{100 * best['unknown'].get('flagged_known', 0):.0f}% of test objects, "
        f"{100 * best['unknown'].get('flagged_other', 0):.0f}% of 'other' objects.",
    ]
    summary = out_dir / "summary.md"
    summary.write_text("\n".join(lines) + "\n")
    return summary
