"""Per-object photometry and dm-dt counts in Redis, updated incrementally and idempotently.

The keys are laid out in :mod:`stream.keys`; this store and the scoring queue are the
only code that reads or writes them. Counts another grid wrote (before a model with a new grid
was deployed) are rebuilt from the stored points when read.

A batch of alerts is stored in two round trips whatever its size: one pipeline reads every
object's version, known candids and accumulators; the points not stored yet are added in
O(n) per point; one pipeline of compare-and-set scripts writes each changed object only if
its version is still the one read (an object changed meanwhile is read again and retried).
A redelivered alert, or a point repeated in ``prv_candidates``, is recognised by its candid,
whatever its band (a candid is an object's, not a band's): an alert without new points writes
nothing. A band holds at most ``max_points_per_band`` points (bounded state and O(n) updates
whatever a sender does): points beyond the cap are not stored, and are counted in the result
(``dropped``). The alerts of a batch are applied one after the other in arrival order, so the
stored state (points, counts, candids, ``alerts``, ``last_alert_time``) does not depend on how
the alerts were batched; only ``ver`` counts the writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import redis

from classifier.accumulator import DmDtAccumulator
from classifier.grid import DmDtGrid
from classifier.readers.base import BandPoint
from stream import keys
from stream.defaults import MAX_POINTS_PER_BAND
from stream.redis_client import RedisClient, queue_script
from stream.results import StreamResult

MAX_RETRIES = 50

# KEYS: meta, candids, bands, acc:<band> x n.  ARGV: expected ver, n, bands x n, blobs x n,
# alerts, last alert time ('' = none), candids...
_COMPARE_AND_SET = """
local ver = redis.call('HGET', KEYS[1], 'ver') or '0'
if ver ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('SET', KEYS[3 + i], ARGV[2 + n + i])
  redis.call('SADD', KEYS[3], ARGV[2 + i])
end
local at = 3 + 2 * n
redis.call('HINCRBY', KEYS[1], 'alerts', ARGV[at])
local last = tonumber(redis.call('HGET', KEYS[1], 'last_alert_time') or '')
if ARGV[at + 1] ~= '' and (last == nil or tonumber(ARGV[at + 1]) > last) then
  redis.call('HSET', KEYS[1], 'last_alert_time', ARGV[at + 1])
end
for i = at + 2, #ARGV, 500 do
  redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return 1
"""


class StoreConflictError(redis.RedisError):
    """Concurrent writers kept changing an object; the caller should retry the message."""


@dataclass
class AlertPoints:
    """What one alert brings: detections per band, and when it was sent."""

    object_id: str
    band_points: dict[str, list[BandPoint]]
    alert_time: float | None = None  # seconds since the epoch (the Kafka message time)


@dataclass(frozen=True)
class StoreResult:
    object_id: str
    new_points: dict[str, int]  # per band
    dropped: dict[str, int] = field(default_factory=dict)  # per band, beyond the cap

    @property
    def changed(self) -> bool:
        return any(self.new_points.values())


@dataclass(frozen=True)
class StoredObject:
    """An object's bands as stored, and the version they were read at."""

    object_id: str
    version: int
    bands: dict[str, DmDtAccumulator]


def _by_object(alerts: Sequence[AlertPoints]) -> dict[str, list[AlertPoints]]:
    """The alerts of each object, in arrival order (objects in first-seen order)."""
    grouped: dict[str, list[AlertPoints]] = {}
    for alert in alerts:
        grouped.setdefault(alert.object_id, []).append(alert)
    return grouped


@dataclass
class _Update:
    """What a batch's alerts of one object add, worked out alert by alert."""

    kept: dict[str, list[BandPoint]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    alerts: int = 0  # alerts that brought a new point
    last_alert_time: float | None = None


def _update(alerts: list[AlertPoints], known: set[int], room: dict[str, int]) -> _Update:
    """Apply ``alerts`` in order: a point is new unless its candid is ``known`` or came
    earlier in the batch (in any band), and is kept while its band has ``room``."""
    update = _Update()
    seen = set(known)
    for alert in alerts:
        brought = False
        for band, points in alert.band_points.items():
            kept = update.kept.setdefault(band, [])
            for point in points:
                if point.candid in seen:
                    continue
                seen.add(point.candid)
                if len(kept) < room[band]:
                    kept.append(point)
                    brought = True
                else:
                    update.dropped[band] = update.dropped.get(band, 0) + 1
        if brought:
            update.alerts += 1
            times = [t for t in (update.last_alert_time, alert.alert_time) if t is not None]
            update.last_alert_time = max(times, default=None)
    return update


class ObjectStore:
    """Reads and updates objects' accumulators in Redis (or Valkey)."""

    def __init__(
        self, client: RedisClient, grid: DmDtGrid, max_points_per_band: int = MAX_POINTS_PER_BAND
    ) -> None:
        self.client = client
        self.grid = grid
        self.max_points_per_band = max_points_per_band
        self._compare_and_set = client.register_script(_COMPARE_AND_SET)

    def ping(self) -> None:
        """Raise a ``redis.RedisError`` unless the server answers."""
        self.client.ping()

    def add_points(
        self,
        object_id: str,
        band_points: dict[str, list[BandPoint]],
        alert_time: float | None = None,
    ) -> StoreResult:
        """Store one alert's points not stored yet; idempotent, atomic per object."""
        return self.add_alerts([AlertPoints(object_id, band_points, alert_time)])[0]

    def add_alerts(self, alerts: Sequence[AlertPoints]) -> list[StoreResult]:
        """Store a batch of alerts; one result per distinct object, in first-seen order."""
        grouped = _by_object(alerts)
        pending = grouped
        results: dict[str, StoreResult] = {}
        for _ in range(MAX_RETRIES):
            conflicts = self._try_once(pending, results)
            pending = {oid: pending[oid] for oid in conflicts}
            if not pending:
                return [results[oid] for oid in grouped]
        raise StoreConflictError(
            f"{sorted(pending)[:3]}: {MAX_RETRIES} concurrent changes in a row"
        )

    def _try_once(
        self, grouped: dict[str, list[AlertPoints]], results: dict[str, StoreResult]
    ) -> list[str]:
        """One read and one compare-and-set round; returns the objects changed meanwhile."""
        reads = self.client.pipeline(transaction=False)
        asked: dict[str, tuple[list[int], list[str]]] = {}
        for oid, alerts in grouped.items():
            candids = sorted(
                {p.candid for a in alerts for ps in a.band_points.values() for p in ps}
            )
            bands = sorted({band for a in alerts for band in a.band_points})
            asked[oid] = (candids, bands)
            reads.hget(keys.meta(oid), "ver")
            reads.smismember(keys.candids(oid), candids or [0])
            for band in bands:
                reads.get(keys.accumulator(oid, band))
        replies = iter(reads.execute())
        writes = self.client.pipeline(transaction=False)
        written = []
        for oid, alerts in grouped.items():
            candids, bands = asked[oid]
            version = next(replies) or b"0"
            known = {c for c, is_known in zip(candids, next(replies), strict=False) if is_known}
            accs = {band: self._accumulator(next(replies)) for band in bands}
            room = {
                band: max(0, self.max_points_per_band - acc.n_points) for band, acc in accs.items()
            }
            update = _update(alerts, known, room)
            results[oid] = StoreResult(
                oid, {band: len(points) for band, points in update.kept.items()}, update.dropped
            )
            changed = sorted(band for band, points in update.kept.items() if points)
            if not changed:
                continue
            stored = [p.candid for band in changed for p in update.kept[band]]
            time = "" if update.last_alert_time is None else repr(update.last_alert_time)
            queue_script(
                writes,
                self._compare_and_set,
                [
                    keys.meta(oid),
                    keys.candids(oid),
                    keys.bands(oid),
                    *[keys.accumulator(oid, band) for band in changed],
                ],
                [
                    version,
                    len(changed),
                    *changed,
                    *[self._added(accs[band], update.kept[band]).to_bytes() for band in changed],
                    update.alerts,
                    time,
                    *stored,
                ],
            )
            written.append(oid)
        outcomes = writes.execute() if written else []
        return [oid for oid, ok in zip(written, outcomes, strict=True) if not ok]

    def _accumulator(self, blob: bytes | None) -> DmDtAccumulator:
        return (
            DmDtAccumulator(self.grid)
            if blob is None
            else DmDtAccumulator.from_bytes(blob, self.grid, rebin=True)
        )

    @staticmethod
    def _added(acc: DmDtAccumulator, points: list[BandPoint]) -> DmDtAccumulator:
        acc.add_many(
            np.fromiter((p.mjd for p in points), float, len(points)),
            np.fromiter((p.mag for p in points), float, len(points)),
            np.fromiter((p.err for p in points), float, len(points)),
        )
        return acc

    def load_many(self, object_ids: Sequence[str]) -> list[StoredObject]:
        """Every stored band of each object (no bands when unknown), in two round trips."""
        heads = self.client.pipeline(transaction=False)
        for oid in object_ids:
            heads.smembers(keys.bands(oid))
        band_lists = [sorted(b.decode() for b in bands) for bands in heads.execute()]
        bodies = self.client.pipeline(transaction=False)
        for oid, bands in zip(object_ids, band_lists, strict=True):
            bodies.hget(keys.meta(oid), "ver")
            for band in bands:
                bodies.get(keys.accumulator(oid, band))
        replies = iter(bodies.execute())
        stored = []
        for oid, bands in zip(object_ids, band_lists, strict=True):
            version = int(next(replies) or 0)
            blobs = [next(replies) for _ in bands]
            accs = {
                band: DmDtAccumulator.from_bytes(blob, self.grid, rebin=True)
                for band, blob in zip(bands, blobs, strict=True)
                if blob is not None
            }
            stored.append(StoredObject(oid, version, accs))
        return stored

    def load(self, object_id: str) -> dict[str, DmDtAccumulator]:
        """Every stored band of the object (empty when unknown)."""
        return self.load_many([object_id])[0].bands

    def save_results(self, bodies: Mapping[str, str], scored_at: float) -> None:
        """Write each object's latest classification (object id -> the
        :class:`~stream.results.StreamResult` JSON the results topic got, all scored at
        ``scored_at``), its history (the last :data:`~stream.keys.HISTORY`) and its place in
        the latest ranking, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for object_id, body in bodies.items():
            pipe.set(keys.result(object_id), body)
            pipe.lpush(keys.history(object_id), body)
            pipe.ltrim(keys.history(object_id), 0, keys.HISTORY - 1)
            pipe.zadd(keys.LATEST, {object_id: scored_at})
        if bodies:
            pipe.zremrangebyrank(keys.LATEST, 0, -keys.LATEST_KEPT - 1)
        pipe.execute()

    def load_history(self, object_id: str) -> list[StreamResult]:
        """The object's last classifications, newest first."""
        blobs = self.client.lrange(keys.history(object_id), 0, keys.HISTORY - 1)
        return [StreamResult.model_validate_json(blob) for blob in blobs]

    def latest_results(self, limit: int) -> list[StreamResult]:
        """The latest classifications of the ``limit`` objects scored last, newest first."""
        ranked: list[bytes] = self.client.zrevrange(keys.LATEST, 0, limit - 1)  # type: ignore[assignment]
        object_ids = [oid.decode() for oid in ranked]
        pipe = self.client.pipeline(transaction=False)
        for oid in object_ids:
            pipe.get(keys.result(oid))
        return [StreamResult.model_validate_json(b) for b in pipe.execute() if b is not None]

    def load_result(self, object_id: str) -> StreamResult | None:
        """The object's latest classification, if it has one."""
        blob = self.client.get(keys.result(object_id))
        return None if blob is None else StreamResult.model_validate_json(blob)

    def scored_versions(self, object_ids: Sequence[str]) -> dict[str, int]:
        """The data version each object's latest classification scored (unscored: absent)."""
        pipe = self.client.pipeline(transaction=False)
        for oid in object_ids:
            pipe.get(keys.result(oid))
        return {
            oid: json.loads(blob)["data_version"]
            for oid, blob in zip(object_ids, pipe.execute(), strict=True)
            if blob is not None
        }
