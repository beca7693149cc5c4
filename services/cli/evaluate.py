"""``dmdt evaluate``: measure a training run on its test split and write the report (the
training extra, imported only when the command runs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def evaluate_run(
    data_dir: Path,
    run_dir: Path,
    out_dir: Path | None,
    transients_dir: Path | None = None,
    quasars_dir: Path | None = None,
    quasar_limit: int | None = None,
    eros_dir: Path | None = None,
) -> str:
    """Evaluate ``run_dir``, write its report; returns the name of the candidate to ship.
    With the transient and quasar folders, their held-out (test) parts are measured too."""
    import itertools  # noqa: PLC0415

    from training.evaluate import evaluate  # noqa: PLC0415 - the training extra
    from training.nonmembers import quasars, transients  # noqa: PLC0415
    from training.report import write_report  # noqa: PLC0415

    nonmembers = {}
    if transients_dir is not None:
        nonmembers["transients"] = [m.curve for m in transients(transients_dir, "test")]
    if quasars_dir is not None:
        held_out = itertools.islice(quasars(quasars_dir, "test"), quasar_limit)
        nonmembers["quasars"] = [m.curve for m in held_out]
    from training.transfer import ErosSet  # noqa: PLC0415

    eros = ErosSet.load(eros_dir, "test", ("B", "R")) if eros_dir is not None else None
    results = evaluate(data_dir, run_dir, nonmembers=nonmembers, eros=eros)
    summary = write_report(results, run_dir, out_dir or run_dir / "report")
    print(f"report: {summary}")
    return results["shipped"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="measure a training run on its test split and write the report",
    )
    evaluate.add_argument("data_dir", type=Path, help="folder of CSS light curves")
    evaluate.add_argument("--run", type=Path, default=Path("runs/css"), help="run folder")
    evaluate.add_argument(
        "--bundles",
        nargs="+",
        default=None,
        metavar="BUNDLE",
        help="installed bundles (names or folders) to measure side by side: RUN is made of "
        "them, with the CSS split of their cards' split seed; the report leads with the first",
    )
    evaluate.add_argument(
        "--out", type=Path, default=None, help="report folder (default: RUN/report)"
    )
    evaluate.add_argument(
        "--transients",
        type=Path,
        default=None,
        help="Open Supernova Catalog folder (labels.csv, light-curves/): its held-out part "
        "is measured as non-members",
    )
    evaluate.add_argument(
        "--quasars",
        type=Path,
        default=None,
        help="Gaia DR3 quasar folder (*.parquet): its held-out part is measured as non-members",
    )
    evaluate.add_argument(
        "--quasar-limit", type=int, default=None, help="at most this many held-out quasars"
    )
    evaluate.add_argument(
        "--eros",
        type=Path,
        default=None,
        help="EROS-1 folder (test.csv, test_varlength_features.csv.gz): group accuracy per band",
    )


def run(args: argparse.Namespace) -> None:
    if args.bundles:
        from classifier.registry import find_bundle  # noqa: PLC0415
        from training.bundle_run import bundle_run  # noqa: PLC0415 - the training extra

        bundle_run(args.run, [find_bundle(name) for name in args.bundles], args.data_dir)
    evaluate_run(
        args.data_dir,
        args.run,
        args.out,
        args.transients,
        args.quasars,
        args.quasar_limit,
        args.eros,
    )
