"""The ``dmdt`` command line: one entry point, one subcommand per job.

Every failure caused by the input (a bad file, option or value) ends with exit status 2 and a
single line ``dmdt: error: <reason>`` on standard error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from classifier.bundle import BundleError
from classifier.grid import PRESETS, GridError
from classifier.lightcurve import LightCurveError
from classifier.normalise import NORMALISATIONS
from classifier.readers import ReaderError, reader_names
from classifier.registry import find_bundle
from services.cli.image import UsageError, gallery_command, image_command
from services.cli.predict import predict_files

INPUT_ERRORS = (ReaderError, LightCurveError, GridError, UsageError, BundleError, FileNotFoundError)


def _version() -> str:
    try:
        return version("dmdt-stream")
    except PackageNotFoundError:
        return "unknown"


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _positive(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return value


def _share(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return value


def _add_training_commands(commands) -> None:
    """``train``, ``experiments``, ``evaluate``: they need the training extra."""
    train = commands.add_parser(
        "train",
        help="train the CNNs, the hybrid and the random forest on CSS light curves",
        description="Train every candidate on a folder of <CSS_ID>-<CLASS>.csv files, evaluate "
        "them on the test split, write the report, and optionally install the best bundle. "
        "Needs the training extra: pip install 'dmdt-stream[training]'.",
    )
    train.add_argument("data_dir", type=Path, help="folder of CSS light curves")
    train.add_argument("--out", type=Path, default=Path("runs/css"), help="run folder")
    train.add_argument(
        "--bins",
        choices=sorted(PRESETS),
        default="crts-fine-dm",
        help="bin-edge preset (default: crts-fine-dm, 32 x 24, the shipped hybrid's grid)",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=2017,
        help="seed of the split and of training: initial weights, shuffles, partial views",
    )
    train.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seed of the split alone (default: --seed), to retrain on one split with "
        "another training seed",
    )
    train.add_argument(
        "--variants", type=int, default=3, help="partial views per training curve (default 3)"
    )
    train.add_argument(
        "--model-version", default="1.1.0", help="version written into the bundles' cards"
    )
    train.add_argument(
        "--noisy-share",
        type=_share,
        default=0.0,
        help="share (0-1) of the partial views whose magnitudes are redrawn within their "
        "error bars (default 0)",
    )
    train.add_argument(
        "--architectures",
        nargs="+",
        default=None,
        help="networks to train (default: mahabal2017 dmdtnet hybrid)",
    )
    train.add_argument("--epochs", type=int, default=None, help="maximum epochs per network")
    train.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="use at most this many curves a class (quick runs)",
    )
    train.add_argument(
        "--install", action="store_true", help="copy the shipped bundle into the models folder"
    )

    experiments = commands.add_parser(
        "experiments",
        help="the paper's experiments on real data: a Markdown report with PNG pictures",
        description="Run the experiments on a folder of CSS light curves: robustness, saliency "
        "and the most confident errors of the shipped models on the test split; binary pairs, "
        "background subtraction, binning, minority classes and FGSM with study networks "
        "trained on the split. Needs the training extra.",
    )
    experiments.add_argument("data_dir", type=Path, help="folder of <CSS_ID>-<CLASS>.csv files")
    experiments.add_argument("--out", type=Path, default=Path("out/experiments"))
    experiments.add_argument(
        "--only", nargs="+", default=None, help="experiments to run (default: all)"
    )
    experiments.add_argument(
        "--split",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "reports" / "css-hybrid" / "split.json",
        help="split file whose test part is used (default: the shipped model's; if missing, "
        "every curve of the folder)",
    )
    experiments.add_argument("--limit", type=int, default=None, help="at most this many curves")
    experiments.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="training experiments: at most this many curves a class in each part",
    )
    experiments.add_argument(
        "--epochs", type=int, default=None, help="training experiments: most epochs a network"
    )
    experiments.add_argument(
        "--seeds",
        type=_count,
        default=3,
        help="training experiments: seeds a variant of backgrounds, binning, minority and "
        "FGSM is trained with; the report gives their mean and range (default 3)",
    )
    experiments.add_argument(
        "--eros",
        type=Path,
        default=None,
        help="the EROS-1 folder (train.csv, test.csv, *_varlength_features.csv.gz): adds the "
        "transfer experiment",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a training run on its test split and write the report",
    )
    evaluate.add_argument("data_dir", type=Path, help="folder of CSS light curves")
    evaluate.add_argument("--run", type=Path, default=Path("runs/css"), help="run folder")
    evaluate.add_argument(
        "--out", type=Path, default=None, help="report folder (default: RUN/report)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmdt", description="dm-dt images and classification of light curves."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    image = commands.add_parser(
        "image",
        help="dm-dt image of a light-curve file (PNG, JSON or NPY)",
        description="Build the dm-dt image of one band of one object in a light-curve file "
        f"(formats: {', '.join(reader_names())}; detected from the content).",
    )
    image.add_argument("path", type=Path, help="light-curve file")
    image.add_argument(
        "--bins",
        choices=sorted(PRESETS),
        default="crts",
        help="bin-edge preset (default: crts, 22 x 24)",
    )
    image.add_argument("--band", help="band to use (default: the band with the most points)")
    image.add_argument(
        "--norm", choices=NORMALISATIONS, default="mahabal", help="normalisation (default: mahabal)"
    )
    image.add_argument(
        "--out", type=Path, help="output file, .png, .json or .npy (default: OBJECT_BAND_dmdt.png)"
    )
    image.add_argument("--object", dest="object_id", help="object id, for multi-object files")
    image.add_argument(
        "--format",
        dest="file_format",
        choices=reader_names(),
        help="file format (default: detected)",
    )

    demo = commands.add_parser(
        "demo",
        help="the whole service on embedded Kafka and Redis, streaming the bundled real data",
        description="Start an embedded Kafka-compatible broker (Tansu) and Redis (Valkey), "
        "dmdt ingest, worker and serve; replay the bundled ZTF alerts and CSS periodic "
        "variables as alert streams; show the classifications; keep the API up until Ctrl-C.",
    )
    demo.add_argument("--rate", type=_positive, default=300.0, help="alerts/s (default 300)")
    demo.add_argument("--port", type=int, help="API port (default: a free one)")
    demo.add_argument("--logs", type=Path, default=Path("out/demo"), help="log folder")
    demo.add_argument(
        "--exit", dest="stay", action="store_false", help="stop once the replay is scored"
    )

    gallery = commands.add_parser(
        "gallery", help="dm-dt images (PNG + JSON) of every bundled real sample"
    )
    gallery.add_argument("--out", type=Path, default=Path("out/gallery"), help="output folder")
    gallery.add_argument("--bins", choices=sorted(PRESETS), default="crts")
    gallery.add_argument("--norm", choices=NORMALISATIONS, default="mahabal")

    commands.add_parser(
        "ingest", help="the Kafka alert consumer (DMDT_* settings: Kafka, Redis, topics)"
    )
    commands.add_parser("worker", help="the inference worker (DMDT_* settings)")

    replay = commands.add_parser(
        "replay",
        help="produce alert files, or light curves as alert streams, to Kafka",
        description="Send ZTF Avro alert files as they are, and light-curve files (CSS, "
        "generic CSV, ...) as ZTF-like alerts, one per point, merged in time order.",
    )
    replay.add_argument("paths", type=Path, nargs="+", help="files or folders")
    replay.add_argument("--topic", help="topic (default: DMDT_ALERT_TOPIC)")
    replay.add_argument("--rate", type=_positive, help="alerts/s (default: as fast as possible)")
    replay.add_argument("--bootstrap", help="Kafka servers (default: DMDT_KAFKA_BOOTSTRAP)")

    serve = commands.add_parser(
        "serve",
        help="the HTTP API (POST /classify, /models, /healthz; DMDT_* settings)",
    )
    serve.add_argument("--host", help="address (default: DMDT_API_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: DMDT_API_PORT or 8000)")

    predict = commands.add_parser(
        "predict",
        help="classify light-curve files with an ONNX model bundle",
        description="Classify every object and band of the given files (folders recurse) "
        "with a model bundle. CSV columns: path, object_id, band, n_points, label, confidence, "
        "unknown, p_<class>..., error.",
    )
    predict.add_argument("paths", type=Path, nargs="+", help="files or folders")
    predict.add_argument(
        "--model",
        help="bundle name in the models folder, or a bundle path (default: css-hybrid)",
    )
    predict.add_argument("--out", type=Path, help="CSV file (default: standard output)")

    _add_training_commands(commands)
    return parser


def predict_command(paths: list[Path], model: str | None, out: Path | None) -> None:
    from classifier.inference import OnnxClassifier  # noqa: PLC0415 - onnxruntime loads slowly

    classifier = OnnxClassifier(find_bundle(model))
    if out is None:
        done, failed = predict_files(classifier, paths, sys.stdout)
    else:
        with open(out, "w", newline="") as handle:
            done, failed = predict_files(classifier, paths, handle)
    print(
        f"{done} curves classified, {failed} rows with an error "
        f"(model {classifier.bundle.name}, {classifier.provider})",
        file=sys.stderr,
    )


def serve_command(host: str | None, port: int | None) -> None:
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from services.api.app import create_app  # noqa: PLC0415
    from services.settings import Settings  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="info",
    )


def stream_command(args: argparse.Namespace) -> None:
    """The streaming processes (their imports load Kafka and Redis clients)."""
    from services.cli import processes  # noqa: PLC0415
    from services.settings import Settings  # noqa: PLC0415

    if args.command == "ingest":
        processes.ingest_main(Settings())
    elif args.command == "worker":
        processes.worker_main(Settings())
    elif args.command == "replay":
        processes.replay_main(Settings(), args.paths, args.topic, args.rate, args.bootstrap)
    else:
        from services.cli.demo import run_demo  # noqa: PLC0415

        run_demo(args.logs, args.rate, args.port, args.stay)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "image":
            path = image_command(
                args.path,
                args.bins,
                args.band,
                args.norm,
                args.out,
                args.object_id,
                args.file_format,
            )
            print(path)
        elif args.command == "gallery":
            written = gallery_command(args.out, args.bins, args.norm)
            width = max(len(what) for what, _ in written)
            for what, png in written:
                print(f"{what:<{width}}  {png}")
            print(f"{len(written)} dm-dt images (PNG + JSON) in {args.out.resolve()}")
        elif args.command == "predict":
            predict_command(args.paths, args.model, args.out)
        elif args.command == "serve":
            serve_command(args.host, args.port)
        elif args.command in ("ingest", "worker", "replay", "demo"):
            stream_command(args)
        else:  # training needs the training extra: imported only when asked for
            try:
                from services.cli.training import (  # noqa: PLC0415
                    evaluate_command,
                    experiments_command,
                    train_command,
                )
            except ModuleNotFoundError as missing:
                raise UsageError(
                    f"{args.command} needs the training extra ({missing.name} is "
                    "missing): pip install 'dmdt-stream[training]'"
                ) from None

            if args.command == "train":
                train_command(args)
            elif args.command == "experiments":
                experiments_command(args)
            else:
                evaluate_command(args.data_dir, args.run, args.out)
    except INPUT_ERRORS as error:
        print(f"dmdt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
