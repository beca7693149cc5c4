"""Benchmark: the stream, on real servers (embedded Tansu and Valkey), three measurements.

    python bench/stream.py [--data ../shared/data] [--only ingest|update|latency]

1. **ingest**: real ZTF alerts/s through ``AlertIngest`` (Kafka fetch, decode, Redis store with
   incremental dm-dt update, scoring queue, offset commit), one process; beside it, in the same
   run, ``fastavro.reader`` decoding the same bytes. The real alerts (563) are made distinct
   objects by renaming (``objectId`` + copy number), so every alert brings new points.
2. **update**: one new point for an object already holding n points (n = 100, 1000), through
   Redis, one alert a call and then 100 objects' alerts a call (as ingest stores a batch):
   our incremental path (``ObjectStore.add_alerts``: the object hot in the ingest process,
   add O(n) pairs, append the point and rewrite the counts with a compare-and-set, one round
   trip) against the baseline every existing broker uses, measured in the same run: append
   the point to the stored history, read the whole history back and rebuild the dm-dt
   histogram from all n(n-1)/2 pairs (with our fast batch binning, so the ratio is the
   algorithm, not the implementation), two round trips a call.
3. **latency**: ``dmdt ingest`` + ``dmdt worker`` as separate processes; CSS periodic variables
   streamed as ZTF-like alerts (``sources.ztf_alerts``) at fixed offered rates (300/s = LSST's
   average, 1,333/s = ZTF's observed peak); alert->classification latency per result, from the
   Kafka timestamp of the oldest unscored alert to the result, p50/p99, per model; and the
   CPU time the ingest used an alert and the worker a result (from ``/proc``): on a shared
   machine the percentiles move with the neighbours' load, the CPU time much less. The last
   columns, the cores each process kept busy from the replay's start to the queue's end
   (ingest, worker, the embedded broker and Redis, this process's producer and reader) and the
   whole machine's (any neighbour included), say whether the cores were all taken, and by whom.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import fastavro
import numpy as np
import redis
from confluent_kafka import Consumer, Producer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dmdt import curve_of_size, load_curves  # noqa: E402
from classifier.defaults import DEFAULT_MODEL  # noqa: E402
from classifier.grid import DmDtGrid  # noqa: E402
from classifier.lightcurve import LightCurve  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from classifier.readers.base import BandPoint  # noqa: E402
from services.devtools.embedded import EmbeddedKafka, embedded_redis, free_port  # noqa: E402
from services.devtools.harness import running_service  # noqa: E402
from sources.replay import replay  # noqa: E402
from sources.ztf_alerts import curve_alerts  # noqa: E402
from stream import keys, lifecycle  # noqa: E402
from stream.consumer import AlertIngest  # noqa: E402
from stream.decoders import ZtfDecoder  # noqa: E402
from stream.kafka import consumer_config, ensure_topics, producer_config  # noqa: E402
from stream.scoring_queue import ScoringQueue  # noqa: E402
from stream.store import AlertPoints, ObjectStore  # noqa: E402

GRID = DmDtGrid.preset("crts")
RATES = (300.0, 1333.0)


def distinct_alerts(folder: Path, total: int) -> list[tuple[str, bytes]]:
    """``total`` real alerts, renamed so that each copy is another object."""
    sources = []
    for path in sorted(folder.rglob("*.avro")):
        with path.open("rb") as handle:
            reader = fastavro.reader(handle)
            sources.append((reader.writer_schema, next(iter(reader))))
    out = []
    copy = 0
    while len(out) < total:
        for schema, record in sources:
            renamed = dict(record, objectId=f"{record['objectId']}c{copy}")
            buffer = io.BytesIO()
            fastavro.writer(buffer, schema, [renamed])
            out.append((renamed["objectId"], buffer.getvalue()))
            if len(out) == total:
                break
        copy += 1
    return out


def _read_all(consumer: Consumer, total: int) -> tuple[list, float]:
    """Every message of the topic, and the seconds the broker took to hand them over."""
    messages = consumer.consume(1, 30.0)  # the group join is not counted
    started = time.perf_counter()
    while len(messages) < total:
        messages.extend(consumer.consume(500, 1.0))
    return messages, time.perf_counter() - started


def bench_ingest(folder: Path, total: int, batch: int = 500) -> float:
    """Print the ingest table; returns the alerts/s of ``AlertIngest`` (decode to commit) in
    a running process: a first batch, not counted, loads the compiled kernels (~0.6 s once)."""
    alerts = distinct_alerts(folder, total + batch)
    blobs = [value for _, value in alerts[batch:]]
    started = time.perf_counter()
    for blob in blobs:
        list(fastavro.reader(io.BytesIO(blob)))
    fastavro_s = (time.perf_counter() - started) / total
    size = sum(map(len, blobs)) / total / 1024
    with (
        tempfile.TemporaryDirectory() as logs,
        EmbeddedKafka(Path(logs)) as kafka,
        embedded_redis() as url,
    ):
        ensure_topics(kafka.bootstrap, ["alerts", "dead"])
        replay(Producer(producer_config(kafka.bootstrap)), "alerts", alerts)
        client = redis.Redis.from_url(url)
        ingest = AlertIngest(
            Consumer(consumer_config(kafka.bootstrap, "bench")),
            Producer(producer_config(kafka.bootstrap)),
            ObjectStore(client, GRID),
            ScoringQueue(client),
            {"alerts": ZtfDecoder()},
            "dead",
        )
        ingest.consumer.subscribe(["alerts"])
        messages, fetch_s = _read_all(ingest.consumer, total + batch)
        lifecycle.handle(ingest, messages[:batch])  # warm-up
        started = time.perf_counter()
        for i in range(batch, total + batch, batch):
            lifecycle.handle(ingest, messages[i : i + batch])
        ours_s = (time.perf_counter() - started) / total
        queued = client.zcard(keys.QUEUE)
        ingest.consumer.close()
    fetch_s /= total + batch
    print(
        f"\n## ingest: {total} real ZTF alerts (mean {size:.0f} KB) after a warm-up batch "
        f"of {batch}, {queued} objects queued"
    )
    print("| step | ms/alert | alerts/s | ratio to fastavro.reader |")
    print("|---|---:|---:|---:|")
    rows = [
        ("fastavro.reader, decode only (baseline)", fastavro_s),
        (
            f"lifecycle.handle(AlertIngest): decode + store + queue + commit, batches of {batch}",
            ours_s,
        ),
        ("embedded Tansu handing the messages to the consumer (broker ceiling)", fetch_s),
    ]
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.3f} | {1 / seconds:,.0f} | {seconds / fastavro_s:.2f} |")
    return 1 / ours_s


class RebuildBaseline:
    """What brokers do at each alert: append to the history, read it all, rebuild the image
    (a batch of alerts in two round trips, as our store)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def add_point(self, object_id: str, point: BandPoint) -> np.ndarray:
        return self.add_points({object_id: point})[object_id]

    def add_points(self, points: dict[str, BandPoint]) -> dict[str, np.ndarray]:
        """One new point to each object."""
        pipe = self.client.pipeline(transaction=False)
        for object_id, point in points.items():
            key = f"history:{{{object_id}}}"
            pipe.rpush(key, np.array([point.mjd, point.mag, point.err]).tobytes())
            pipe.lrange(key, 0, -1)
        replies = pipe.execute()
        images = {}
        writes = self.client.pipeline(transaction=False)
        for i, object_id in enumerate(points):
            history = np.frombuffer(b"".join(replies[2 * i + 1])).reshape(-1, 3)
            counts = GRID.counts(LightCurve(history[:, 0], history[:, 1]))
            writes.set(f"image:{{{object_id}}}", counts.astype(np.uint32).tobytes())
            images[object_id] = counts
        writes.execute()
        return images


def bench_update(
    css: Path, sizes: tuple[int, ...] = (100, 1000), alerts: int = 200, batch: int = 100
) -> None:
    """One new point to an object of n points: an alert alone, then ``batch`` objects'
    alerts together (as ingest stores a batch); the incremental path and the rebuild."""
    curves = load_curves(css)
    rng = np.random.default_rng(2017)
    print(f"\n## update: one new point to an object of n points, through Redis ({alerts} alerts)")
    print("| n | alerts a call | incremental ms/alert | rebuild ms/alert | incremental/rebuild |")
    print("|---:|---:|---:|---:|---:|")
    with embedded_redis() as url:
        client = redis.Redis.from_url(url)
        for n in sizes:
            for per_call in (1, batch):
                store, baseline = ObjectStore(client, GRID), RebuildBaseline(client)
                names = [f"{n}-{per_call}-{i}" for i in range(per_call)]
                streams = {}
                for name in names:
                    t, m = curve_of_size(curves, n + alerts // per_call, rng)
                    points = [BandPoint(i, t[i], m[i], 0.05) for i in range(len(t))]
                    store.add_points(f"inc{name}", {"V": points[:n]})
                    pipe = client.pipeline(transaction=False)
                    for point in points[:n]:
                        row = np.array([point.mjd, point.mag, point.err]).tobytes()
                        pipe.rpush(f"history:{{reb{name}}}", row)
                    pipe.execute()
                    streams[name] = points[n:]
                rounds = range(alerts // per_call)
                started = time.perf_counter()
                for k in rounds:
                    store.add_alerts(
                        [AlertPoints(f"inc{name}", {"V": [streams[name][k]]}) for name in names]
                    )
                incremental = (time.perf_counter() - started) / alerts
                started = time.perf_counter()
                for k in rounds:
                    rebuilt = baseline.add_points(
                        {f"reb{name}": streams[name][k] for name in names}
                    )
                rebuild = (time.perf_counter() - started) / alerts
                last = names[-1]
                assert np.array_equal(store.load(f"inc{last}")["V"].counts, rebuilt[f"reb{last}"])
                print(
                    f"| {n} | {per_call} | {incremental * 1e3:.3f} | {rebuild * 1e3:.3f} | "
                    f"{incremental / rebuild:.3f} |"
                )


def css_stream(css: Path, objects: int, per_object: int) -> list[tuple[str, bytes]]:
    """Alerts of ``objects`` CSS curves (their first ``per_object`` points), interleaved in
    time order as a survey would send them."""
    streams = []
    for path in sorted(css.glob("*.csv"))[:objects]:
        photometry = read_file(path)[0]
        curve = photometry.curve().first(per_object)
        streams.extend(curve_alerts(curve, f"CSS{photometry.object_id}"))
    streams.sort(key=lambda alert: alert.mjd)
    return [(alert.object_id, alert.packet) for alert in streams]


def _collect(bootstrap: str, topic: str, latencies: list, stop: threading.Event) -> None:
    consumer = Consumer(consumer_config(bootstrap, f"bench-{time.time()}"))
    consumer.subscribe([topic])
    while not stop.is_set():
        for message in consumer.consume(500, 0.1):
            if message.error() is None:
                result = json.loads(message.value())
                latencies.append(result["scored_at"] - result["alert_time"])
    consumer.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy, every core summed (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


CORES_BY = ("ingest", "worker", "broker", "redis", "bench", "machine")


def _servers() -> dict[str, int]:
    """This process's embedded broker and Redis: kind -> process id (``/proc``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, rest = (entry / "stat").read_text().split("(", 1)[1].rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        if int(rest.split()[1]) == os.getpid():
            for kind, prefix in (("broker", "tansu"), ("redis", "valkey")):
                if name.startswith(prefix):
                    found[kind] = int(entry.name)
    return found


def _cpu_by_kind(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by the ingest and the worker processes (each kind summed), the
    embedded broker and Redis, this process (the producer and the results' reader), and the
    whole machine (the neighbours too)."""
    used = {
        "ingest": 0.0,
        "worker": 0.0,
        **{kind: cpu_seconds(pid) for kind, pid in _servers().items()},
        "bench": cpu_seconds(os.getpid()),
        "machine": machine_busy_seconds(),
    }
    for role, pid in pids.items():
        kind = role.split("-")[0]
        if kind in ("ingest", "worker"):
            used[kind] += cpu_seconds(pid)
    return used


def bench_latency(
    css: Path, model: str, seconds: float, workers: int, rates: tuple[float, ...] = RATES
) -> dict[float, np.ndarray]:
    """Print a row per offered rate; returns the latencies (s) of each rate."""
    os.environ["DMDT_MODEL"] = model
    measured = {}
    for rate in rates:
        messages = css_stream(css, objects=1000, per_object=40)[: int(rate * seconds)]
        with (
            tempfile.TemporaryDirectory() as logs,
            running_service(Path(logs), free_port(), workers=workers) as service,
        ):
            settings = service.settings
            producer = Producer(producer_config(settings.kafka_bootstrap))
            warm = css_stream(ROOT / "classifier" / "samples", objects=1, per_object=10)
            replay(producer, settings.alert_topic, warm)
            client = redis.Redis.from_url(settings.redis_url)
            deadline = time.monotonic() + 60
            while client.get(keys.result(warm[0][0])) is None:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no warm-up result; see {logs}")
                time.sleep(0.1)
            latencies: list[float] = []
            stop = threading.Event()
            reader = threading.Thread(
                target=_collect,
                args=(settings.kafka_bootstrap, settings.results_topic, latencies, stop),
            )
            reader.start()
            time.sleep(4.0)  # the reader's group join
            skip = len(latencies)
            cpu_before, started = _cpu_by_kind(service.pids), time.monotonic()
            replay(producer, settings.alert_topic, messages, rate=rate)
            settle = time.monotonic() + 60
            while client.zcard(keys.QUEUE) and time.monotonic() < settle:
                time.sleep(0.1)
            time.sleep(1.0)
            cpu = {k: v - cpu_before[k] for k, v in _cpu_by_kind(service.pids).items()}
            cores = {kind: used / (time.monotonic() - started) for kind, used in cpu.items()}
            stop.set()
            reader.join()
        values = np.array(latencies[skip:])
        measured[rate] = values
        print(
            f"| {model} | {workers} | {rate:,.0f} | {len(messages)} | {len(values)} | "
            f"{np.percentile(values, 50) * 1e3:.0f} | {np.percentile(values, 99) * 1e3:.0f} | "
            f"{cpu['ingest'] / len(messages) * 1e3:.3f} | "
            f"{cpu['worker'] / len(values) * 1e3:.2f} | "
            + " | ".join(f"{cores.get(kind, 0):.2f}" for kind in CORES_BY)
            + f" of {os.cpu_count()} |"
        )
    return measured


def plot_latency(measured: dict[str, dict[float, np.ndarray]], path: Path) -> None:
    """Cumulative distribution of the latency, one panel per offered rate, a line a model."""
    import matplotlib  # noqa: PLC0415 - only for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    rates = sorted(next(iter(measured.values())))
    figure, axes = plt.subplots(1, len(rates), figsize=(5 * len(rates), 3.6), sharey=True)
    for axis, rate in zip(np.atleast_1d(axes), rates, strict=True):
        for label, by_rate in measured.items():
            values = np.sort(by_rate[rate]) * 1e3
            axis.plot(values, np.arange(1, len(values) + 1) / len(values), label=label)
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda ms, _: f"{ms:,.0f}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.axvline(100 if rate < 1000 else 250, color="grey", linestyle=":", label="target p99")
        axis.axhline(0.99, color="grey", linewidth=0.5)
        axis.set_title(f"{rate:,.0f} alerts/s offered")
        axis.set_xlabel("alert -> classification (ms)")
    np.atleast_1d(axes)[0].set_ylabel("share of results")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"latency plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", choices=("ingest", "update", "latency"))
    parser.add_argument("--alerts", type=int, default=5000, help="ingest: alerts to read")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency: replay length")
    parser.add_argument("--models", nargs="+", default=[DEFAULT_MODEL, "css-hybrid", "css-dmdtnet"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1], help="worker processes")
    parser.add_argument(
        "--rates", nargs="+", type=float, default=list(RATES), help="latency: offered alerts/s"
    )
    parser.add_argument("--plot", type=Path, default=None, help="latency: write a PNG here")
    args = parser.parse_args()
    css = args.data / "crts_css" / "lightcurves"
    if args.only in (None, "ingest"):
        bench_ingest(args.data / "ztf_alerts", args.alerts)
    if args.only in (None, "update"):
        bench_update(css)
    if args.only in (None, "latency"):
        print("\n## alert -> classification latency (ms), ingest and worker as processes")
        print(
            "| model | workers | offered alerts/s | alerts | results | p50 | p99 | "
            "ingest CPU ms/alert | worker CPU ms/result | cores busy: "
            + " | ".join(CORES_BY)
            + " |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(CORES_BY))
        measured = {
            f"{model}, {workers} worker{'s' if workers > 1 else ''}": bench_latency(
                css, model, args.seconds, workers, tuple(args.rates)
            )
            for model in args.models
            for workers in args.workers
        }
        if args.plot is not None:
            plot_latency(measured, args.plot)


if __name__ == "__main__":
    main()
