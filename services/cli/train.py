"""``dmdt train``: train the candidates on CSS light curves, evaluate them, optionally install
the best bundle. Needs the training extra, imported only when the command runs."""

from __future__ import annotations

import argparse
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

from classifier import defaults
from classifier.features import NEW_MODELS_PERIODOGRAM, PERIODOGRAMS
from classifier.grid import PRESETS
from classifier.registry import models_dir
from services.cli.arguments import bundle_name, count, share
from services.cli.errors import UsageError
from services.cli.evaluate import evaluate_run

_KEPT = ("card.json", "model.onnx")


def _decay(text: str) -> float:
    value = share(text)
    if value == 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a decay below 1 (1 would never move)")
    return value


def add_run_arguments(parser: argparse.ArgumentParser, default_out: Path) -> None:
    """The options of a run folder that ``train`` and ``ensemble`` share: the CSS data, the
    split, the non-member and EROS folders, the version written into the cards, install."""
    parser.add_argument("data_dir", type=Path, help="folder of CSS light curves")
    parser.add_argument("--out", type=Path, default=default_out, help="run folder")
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.TRAINING_SEED,
        help="seed of the split and of training: initial weights, shuffles, partial views "
        f"(default {defaults.TRAINING_SEED})",
    )
    parser.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seed of the split alone (default: --seed), to retrain on one split with "
        "another training seed",
    )
    parser.add_argument(
        "--model-version",
        default=defaults.MODEL_VERSION,
        help=f"version written into the bundles' cards (default {defaults.MODEL_VERSION})",
    )
    parser.add_argument(
        "--transients",
        type=Path,
        default=None,
        help="Open Supernova Catalog folder: train the class 'other' (with the CSS classes "
        "outside the 7 and constant stars); its held-out part is evaluated",
    )
    parser.add_argument(
        "--quasars",
        type=Path,
        default=None,
        help="Gaia DR3 quasar folder: train the class 'other' with them too",
    )
    parser.add_argument(
        "--quasar-limit",
        type=int,
        default=2000,
        help="at most this many quasars a part (default 2000)",
    )
    parser.add_argument(
        "--transient-limit",
        type=int,
        default=None,
        help="at most this many transients a part (default: all)",
    )
    parser.add_argument(
        "--eros",
        type=Path,
        default=None,
        help="EROS-1 LMC folder: its test part is evaluated; train adds its train part to "
        "the training curves (types mapped to sets of CSS classes, Cepheids as 'other')",
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="use at most this many curves a class (quick runs)",
    )
    parser.add_argument(
        "--install", action="store_true", help="copy the shipped bundle into the models folder"
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train the CNNs, the hybrid and the random forest on CSS light curves",
        description="Train every candidate on a folder of <CSS_ID>-<CLASS>.csv files, evaluate "
        "them on the test split, write the report, and optionally install the best bundle. "
        "Needs the training extra: pip install 'dmdt-stream[training]'.",
    )
    add_run_arguments(train, default_out=Path("runs/css"))
    train.add_argument(
        "--bins",
        choices=sorted(PRESETS),
        default=defaults.TRAINING_GRID,
        help=f"bin-edge preset (default: {defaults.TRAINING_GRID}, the shipped hybrid's grid)",
    )
    train.add_argument(
        "--variants",
        type=int,
        default=defaults.PARTIAL_VIEWS,
        help=f"partial views per training curve (default {defaults.PARTIAL_VIEWS})",
    )
    train.add_argument(
        "--noisy-share",
        type=share,
        default=defaults.NOISY_SHARE,
        help="share (0-1) of the partial views whose magnitudes are redrawn within their "
        f"error bars (default {defaults.NOISY_SHARE:g})",
    )
    train.add_argument(
        "--cadence-views",
        type=int,
        default=0,
        help="rounds of every other survey's view of each training curve (ZTF, LSST, sparse, "
        "Gaia-like, EROS; training/cadences.py; default 0)",
    )
    train.add_argument(
        "--features",
        choices=["all", "survey-neutral"],
        default="all",
        help="the hybrid's and the forest's features: all, or without those the leakage audit "
        "found to encode the survey (classifier.features.SURVEY_ENCODING_FEATURES)",
    )
    train.add_argument(
        "--periodogram",
        choices=PERIODOGRAMS,
        default=NEW_MODELS_PERIODOGRAM,
        help="how the periodogram features are computed: refined (a coarse grid following "
        "the curve's baseline, then the exact power around its best peaks; classifier/"
        "periodogram.py) or fixed (the 1.x models' 2**17-frequency grid); default "
        f"{NEW_MODELS_PERIODOGRAM}",
    )
    train.add_argument(
        "--eros-limit",
        type=int,
        default=None,
        help="at most this many EROS training curves a type and band (default: all)",
    )
    train.add_argument(
        "--architectures",
        nargs="+",
        default=None,
        help="networks to train (default: every one, mahabal2017 dmdtnet hybrid)",
    )
    train.add_argument(
        "--trunk-channels",
        nargs=2,
        type=count,
        default=defaults.TRUNK_CHANNELS,
        metavar=("FIRST", "SECOND"),
        help="widths of the two convolution blocks of dmdtnet and hybrid (default "
        f"{' '.join(map(str, defaults.TRUNK_CHANNELS))}; 16 32 costs about half the network's "
        "time)",
    )
    train.add_argument("--epochs", type=int, default=None, help="maximum epochs per network")
    train.add_argument(
        "--teacher",
        type=Path,
        default=None,
        metavar="BUNDLE",
        help="a bundle answering the run's classes (e.g. mixed-hybrid): the networks also "
        "learn its answers on every training view (training/distill.py)",
    )
    train.add_argument(
        "--distill-weight",
        type=share,
        default=0.5,
        help="the teacher's share (0-1) of the loss (default 0.5)",
    )
    train.add_argument(
        "--schedule",
        choices=("plateau", "cosine"),  # training.fit.SCHEDULES (torch is not imported here)
        default="plateau",
        help="learning rate: halved when validation stalls (plateau) or a cosine decay over "
        "the epochs (cosine)",
    )
    train.add_argument(
        "--weight-average",
        type=_decay,
        default=0.0,
        metavar="DECAY",
        help="validate and keep a moving average of the weights, DECAY a step (e.g. 0.999; "
        "default 0: the weights as trained)",
    )


def other_sources(args: argparse.Namespace) -> Any:
    """The folders the class ``other`` is trained from, or None (``OtherSources``)."""
    from training.other_class import OtherSources  # noqa: PLC0415 - the training extra

    if not (args.transients or args.quasars):
        return None
    return OtherSources(args.transients, args.quasars, args.quasar_limit, args.transient_limit)


def install(source: Path, name: str) -> None:
    """Copy a candidate's card and ONNX file into the models folder as ``name``."""
    target = models_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    for kept in _KEPT:
        shutil.copy2(source / kept, target / kept)
    print(f"installed {target}")


def run_settings(args: argparse.Namespace, **training: Any) -> Any:
    """The ``TrainSettings`` of a run folder from the shared options, plus ``training``."""
    from training.pipeline import TrainSettings  # noqa: PLC0415 - the training extra

    return TrainSettings(
        data_dir=args.data_dir,
        out_dir=args.out,
        seed=args.seed,
        split_seed=args.split_seed,
        other=other_sources(args),
        per_class=args.per_class,
        version=args.model_version,
        **training,
    )


def evaluate_run_folder(args: argparse.Namespace) -> str:
    """Evaluate ``args.out`` with the shared options; returns the candidate to ship."""
    return evaluate_run(
        args.data_dir, args.out, None, args.transients, args.quasars, args.quasar_limit, args.eros
    )


def add_name_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--name``: the name of a run's one bundle, in its card and when installed."""
    parser.add_argument(
        "--name",
        default=default,
        type=bundle_name,
        help=f"the bundle's name, in its card and when installed (default {default})",
    )


def evaluate_and_install(args: argparse.Namespace) -> None:
    """Evaluate a run folder whose one candidate is ``hybrid``; install it as ``args.name``
    when asked."""
    evaluate_run_folder(args)
    if args.install:
        install(args.out / "candidates" / "hybrid", args.name)


def quiet_exporter() -> None:
    """torch's ONNX exporter logs warnings about optional packages; they are not ours."""
    warnings.filterwarnings("ignore", module="torch")
    logging.getLogger("torch").setLevel(logging.ERROR)


def check_teacher(args: argparse.Namespace) -> None:
    """Refuse, before any training, a teacher that is no bundle or answers other classes."""
    from training.distill import TeacherError, checked_teacher  # noqa: PLC0415 - training extra
    from training.pipeline import run_classes  # noqa: PLC0415

    try:
        checked_teacher(args.teacher, run_classes(other_sources(args)))
    except TeacherError as error:
        raise UsageError(str(error)) from None


def run(args: argparse.Namespace) -> None:
    from classifier.features import FEATURE_NAMES, SURVEY_NEUTRAL_FEATURES  # noqa: PLC0415
    from training.nets import ARCHITECTURES  # noqa: PLC0415 - the training extra
    from training.pipeline import train  # noqa: PLC0415

    quiet_exporter()
    if args.teacher is not None:
        check_teacher(args)
    settings = run_settings(
        args,
        bins=args.bins,
        variants=args.variants,
        noisy_share=args.noisy_share,
        cadence_views=args.cadence_views,
        features=SURVEY_NEUTRAL_FEATURES if args.features == "survey-neutral" else FEATURE_NAMES,
        periodogram=args.periodogram,
        architectures=tuple(args.architectures or ARCHITECTURES),
        trunk_channels=tuple(args.trunk_channels),
        eros_dir=args.eros,
        eros_limit=args.eros_limit,
        max_epochs=args.epochs,
        schedule=args.schedule,
        weight_average=args.weight_average,
        teacher=args.teacher,
        distill_weight=args.distill_weight,
    )
    train(settings)
    shipped = evaluate_run_folder(args)
    if args.install:
        install(args.out / "candidates" / shipped, f"css-{shipped}")
