"""Per-object photometry and dm-dt counts in Redis, updated incrementally and idempotently.

The keys are laid out in :mod:`stream.keys`; this store and the scoring queue are the
only code that reads or writes them. A band is stored in two parts: its points, appended as
24-byte records in the order they were added, and its counts (a few KB), rewritten at each
change (:mod:`classifier.accumulator`), so that an alert moves only its new points and the
counts, not the object's history. Counts another grid wrote (before a model with a new grid
was deployed) are rebuilt from the stored points when read, and a band still in the older
one-blob encoding is read and written back in two parts.

A batch of alerts costs one round trip for the objects this process wrote last (kept in
:class:`~stream.hot_objects.HotObjects` with their version) and two for the others: one
pipeline reads every other object's version, candids and bands; the points not stored yet
are added in O(n) per point; one compare-and-set script call per :data:`OBJECTS_A_CALL`
objects (one per object on a Redis Cluster, all in one pipeline) writes each changed object
only if its version is still the one read or cached (an object changed meanwhile is read
again and retried). A redelivered alert, or a point repeated in ``prv_candidates``, is
recognised by its candid, whatever its band (a candid is an object's, not a band's): an alert
without new points writes nothing. A band holds at most ``max_points_per_band`` points
(bounded state and O(n) updates whatever a sender does): points beyond the cap are not
stored, and are counted in the result (``dropped``). The alerts of a batch are applied one
after the other in arrival order, so the stored state (points, counts, candids, ``alerts``,
``last_alert_time``) does not depend on how the alerts were batched; only ``ver`` counts the
writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import redis
from redis.cluster import ClusterPipeline, RedisCluster

from classifier.accumulator import DmDtAccumulator, points_bytes
from classifier.grid import DmDtGrid
from classifier.readers.base import BandPoint
from classifier.survey_background import (
    HALF_LIFE_IMAGES,
    ImageSum,
    SurveyBackground,
    SurveyBackgroundError,
)
from stream import keys
from stream.defaults import HOT_OBJECTS_MB, MAX_POINTS_PER_BAND
from stream.hot_objects import HotObject, HotObjects
from stream.redis_client import RedisClient, Script
from stream.rescoring import LastScoring
from stream.results import StreamResult

log = logging.getLogger("dmdt.store")
MAX_RETRIES = 50

# One or more objects' compare-and-sets in one call (several on one server, one an object on
# a cluster, where an object's keys share a slot but objects do not). ARGV[1]: the number of
# objects; then per object its KEYS: meta, candids, bands, then per changed band: points,
# counts, older encoding; and its ARGV: expected ver, n, then per band: band, 'a' (append),
# 'n' (append to a band new to the object) or 's' (set), points, counts; then alerts, last
# alert time ('' = none), the number of candids, the candids. With n = -1 (KEYS: meta; ARGV:
# ver, -1), only whether the version is still the expected one. Returns 1 (written, or
# current) or 0 (changed) per object. Five commands an object: ~20 us of the server's time.
_COMPARE_AND_SET = """
local done = {}
local k, a = 1, 2
for o = 1, tonumber(ARGV[1]) do
  local meta = KEYS[k]
  local held = redis.call('HMGET', meta, 'ver', 'alerts', 'last_alert_time')
  local ver = held[1] or '0'
  local n = tonumber(ARGV[a + 1])
  if n < 0 then
    done[o] = ver == ARGV[a] and 1 or 0
    k, a = k + 1, a + 2
  else
    local at = a + 2 + 4 * n
    local c = tonumber(ARGV[at + 2])
    if ver ~= ARGV[a] then
      done[o] = 0
    else
      for i = 1, n do
        local b = a + 2 + 4 * (i - 1)
        local kb = k + 3 + 3 * (i - 1)
        local mode = ARGV[b + 1]
        if mode == 's' then
          redis.call('SET', KEYS[kb], ARGV[b + 2])
          redis.call('DEL', KEYS[kb + 2])
        else
          redis.call('APPEND', KEYS[kb], ARGV[b + 2])
        end
        redis.call('SET', KEYS[kb + 1], ARGV[b + 3])
        if mode ~= 'a' then redis.call('SADD', KEYS[k + 2], ARGV[b]) end
      end
      local fields = {'ver', tonumber(ver) + 1, 'alerts', (tonumber(held[2]) or 0) + ARGV[at]}
      local last = tonumber(held[3] or '')
      if ARGV[at + 1] ~= '' and (last == nil or tonumber(ARGV[at + 1]) > last) then
        fields[5], fields[6] = 'last_alert_time', ARGV[at + 1]
      end
      redis.call('HSET', meta, unpack(fields))
      for i = at + 3, at + 2 + c, 500 do
        redis.call('SADD', KEYS[k + 1], unpack(ARGV, i, math.min(i + 499, at + 2 + c)))
      end
      done[o] = 1
    end
    k, a = k + 3 + 3 * n, at + 3 + c
  end
end
return done
"""
OBJECTS_A_CALL = 100  # compare-and-sets in one script call on one server (~30 us each)

# KEYS: result, history.  ARGV: result JSON, its data version, last history index kept.
# Written unless the result held was computed from a newer version of the object.
_SAVE_RESULT = """
local held = redis.call('GET', KEYS[1])
if held then
  local ok, found = pcall(cjson.decode, held)
  local version = ok and tonumber(found['data_version'])
  if version and version > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, ARGV[3])
return 1
"""

# KEYS: background, the set of names.  ARGV: images added k, half-life, rows, columns, name,
# their weight (classifier.survey_background.ImageSum), then their sum (rows x columns
# values, row-major). A document of another shape (unreadable) is started afresh.
_ADD_TO_BACKGROUND = """
local k, half = tonumber(ARGV[1]), tonumber(ARGV[2])
local rows, columns = tonumber(ARGV[3]), tonumber(ARGV[4])
local added = tonumber(ARGV[6])
local size = rows * columns
local background
local held = redis.call('GET', KEYS[1])
if held then
  local ok, found = pcall(cjson.decode, held)
  if ok and type(found) == 'table' and type(found['shape']) == 'table'
      and found['shape'][1] == rows and found['shape'][2] == columns
      and type(found['total']) == 'table' and #found['total'] == size then
    background = found
  end
end
if not background then
  background = {shape = {rows, columns}, total = {}, weight = 0, images = 0}
  for i = 1, size do background['total'][i] = 0 end
end
local decay = 2 ^ (-k / half)
local total = background['total']
for i = 1, size do total[i] = total[i] * decay + tonumber(ARGV[6 + i]) end
background['weight'] = background['weight'] * decay + added
background['images'] = background['images'] + k
redis.call('SET', KEYS[1], cjson.encode(background))
redis.call('SADD', KEYS[2], ARGV[5])
return background['images']
"""


BandParts = tuple[bytes | None, bytes | None, bytes | None]  # points, counts, older blob


def _queue_bands_read(pipe, oid: str, bands: Sequence[str]) -> None:
    """Queue the reads of the bands' parts: points, counts and the older one-blob encoding
    (one ``MGET``, an object's keys sharing a slot; a cluster pipeline takes no ``MGET``)."""
    names = [key for band in bands for key in _band_keys(oid, band)]
    if isinstance(pipe, ClusterPipeline):
        for name in names:
            pipe.get(name)
    elif names:
        pipe.mget(names)


def _band_keys(oid: str, band: str) -> tuple[str, str, str]:
    return keys.points(oid, band), keys.counts(oid, band), keys.older(oid, band)


def _bands_reply(replies, bands: Sequence[str], cluster: bool) -> dict[str, BandParts]:
    """The replies of :func:`_queue_bands_read`, per band."""
    if not bands:
        return {}
    values = [next(replies) for _ in range(3 * len(bands))] if cluster else next(replies)
    return {
        band: (values[3 * i], values[3 * i + 1], values[3 * i + 2]) for i, band in enumerate(bands)
    }


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
    """An object's bands as stored, and the version they were read at; read for scoring,
    also what its latest classification was computed from (None: unscored) and each band's
    kept coarse periodogram pass (None: none)."""

    object_id: str
    version: int
    bands: dict[str, DmDtAccumulator]
    last_scoring: LastScoring | None = None
    coarse_passes: dict[str, bytes | None] = field(default_factory=dict)


def _last_scoring(blob: bytes | None) -> LastScoring | None:
    """What a stored result (JSON) was computed from."""
    if blob is None:
        return None
    result = json.loads(blob)
    points = sum(result["points_per_band"].values())
    return LastScoring(result["data_version"], result["scored_at"], points)


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
    seen: set[int] = set()  # earlier in the batch (``known`` is not copied: it may be large)
    for alert in alerts:
        brought = False
        for band, points in alert.band_points.items():
            kept = update.kept.setdefault(band, [])
            for point in points:
                if point.candid in known or point.candid in seen:
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


@dataclass
class _Write:
    """One object's compare-and-set: its keys and arguments."""

    keys: list[str]
    args: list[bytes | str | int]


class ObjectStore:
    """Reads and updates objects' accumulators in Redis (or Valkey)."""

    def __init__(
        self,
        client: RedisClient,
        grid: DmDtGrid,
        max_points_per_band: int = MAX_POINTS_PER_BAND,
        hot_objects_mb: float = HOT_OBJECTS_MB,
    ) -> None:
        self.client = client
        self.grid = grid
        self.max_points_per_band = max_points_per_band
        self.hot = HotObjects(int(hot_objects_mb * 2**20))
        self.cluster = isinstance(client, RedisCluster)
        self._compare_and_set = Script(client, _COMPARE_AND_SET)
        self._save_result = Script(client, _SAVE_RESULT)
        self._add_to_background = Script(client, _ADD_TO_BACKGROUND)

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
        """One compare-and-set round (after one read for the objects not hot); returns the
        objects changed meanwhile, which are no longer hot."""
        entries = self._entries(grouped)
        writes: dict[str, _Write] = {}
        checks: set[str] = set()  # hot objects with nothing new: only their version checked
        try:
            for oid, alerts in grouped.items():
                entry = entries[oid]
                room = {
                    band: max(0, self.max_points_per_band - acc.n_points)
                    for band, acc in entry.bands.items()
                }
                update = _update(alerts, entry.candids, room)
                results[oid] = StoreResult(
                    oid,
                    {band: len(points) for band, points in update.kept.items()},
                    update.dropped,
                )
                if any(update.kept.values()):
                    writes[oid] = self._write(oid, entry, update)
                elif entry.cached:  # nothing new, as far as the cache knows: is it current?
                    writes[oid] = _Write([keys.meta(oid)], [entry.version, -1])
                    checks.add(oid)
            outcomes = self._compare_and_set_all(list(writes.values()))
        except BaseException:
            for oid in writes:  # applied in memory, perhaps not in Redis
                self.hot.drop(oid)
            raise
        conflicts = []
        for oid, done in zip(writes, outcomes, strict=True):
            entry = entries[oid]
            if not done:  # changed by another writer, or lost by Redis: read it again
                self.hot.drop(oid)
                conflicts.append(oid)
            elif oid not in checks:
                entry.version += 1
                entry.full_write.clear()
                entry.cached = True
                self.hot.put(oid, entry)
        for oid, entry in entries.items():
            if oid not in writes:  # read now, nothing new: current as read
                entry.cached = True
                self.hot.put(oid, entry)
        return conflicts

    def _compare_and_set_all(self, writes: list[_Write]) -> list[bool]:
        """Run the writes' compare-and-sets in one round trip: one script call a chunk of
        :data:`OBJECTS_A_CALL` objects (one an object on a cluster); whether each was done."""
        size = 1 if self.cluster else OBJECTS_A_CALL
        calls = []
        for i in range(0, len(writes), size):
            chunk = writes[i : i + size]
            calls.append(
                (
                    [key for w in chunk for key in w.keys],
                    [len(chunk), *(arg for w in chunk for arg in w.args)],
                )
            )
        return [bool(done) for reply in self._compare_and_set.run(calls) for done in reply]

    def _entries(self, grouped: dict[str, list[AlertPoints]]) -> dict[str, HotObject]:
        """Each object's state: hot when it holds the alerts' bands, else read (one round
        trip for all: version first, so a write between the reads fails the compare-and-set)."""
        entries: dict[str, HotObject] = {}
        wanted: dict[str, list[str]] = {}
        for oid, alerts in grouped.items():
            bands = sorted({band for a in alerts for band in a.band_points})
            entry = self.hot.get(oid)
            if entry is not None and all(band in entry.bands for band in bands):
                entries[oid] = entry
            else:
                wanted[oid] = sorted({*bands, *(entry.bands if entry else ())})
        if not wanted:
            return entries
        reads = self.client.pipeline(transaction=False)
        for oid, bands in wanted.items():
            reads.hget(keys.meta(oid), "ver")
            reads.smembers(keys.candids(oid))
            _queue_bands_read(reads, oid, bands)
        replies = iter(reads.execute())
        for oid, bands in wanted.items():
            version = int(next(replies) or 0)
            candids = {int(c) for c in next(replies)}
            stored = {
                band: self._band(*parts)
                for band, parts in _bands_reply(replies, bands, self.cluster).items()
            }
            entries[oid] = HotObject(
                version,
                candids,
                {band: acc for band, (acc, _) in stored.items()},
                {band for band, (_, older) in stored.items() if older},
            )
        return entries

    def _band(
        self, points: bytes | None, counts: bytes | None, older: bytes | None
    ) -> tuple[DmDtAccumulator, bool]:
        """A band's accumulator from its stored parts, and whether it was in the older
        one-blob encoding (an unknown band is empty)."""
        if points is not None:
            return DmDtAccumulator.from_parts(points, counts, self.grid, rebin=True), False
        if older is not None:
            return DmDtAccumulator.from_bytes(older, self.grid, rebin=True), True
        return DmDtAccumulator(self.grid), False

    def _write(self, oid: str, entry: HotObject, update: _Update) -> _Write:
        """Apply ``update`` to the entry's accumulators; the compare-and-set writing it."""
        changed = sorted(band for band, points in update.kept.items() if points)
        band_args: list[bytes | str | int] = []
        band_keys: list[str] = []
        for band in changed:
            acc = entry.bands[band]
            _, t, mag, err = np.array(update.kept[band], dtype=np.float64).T
            held = acc.n_points  # none: the band is new to the object (its name not stored)
            new = acc.add_new(t, mag, err)
            if band in entry.full_write:
                body, mode = points_bytes(*acc.points()), "s"
            else:
                body, mode = points_bytes(t[new], mag[new], err[new]), "a" if held else "n"
            band_args += [band, mode, body, acc.counts_bytes()]
            band_keys += _band_keys(oid, band)
        stored = [p.candid for band in changed for p in update.kept[band]]
        entry.candids.update(stored)
        time = "" if update.last_alert_time is None else repr(update.last_alert_time)
        return _Write(
            [keys.meta(oid), keys.candids(oid), keys.bands(oid), *band_keys],
            [entry.version, len(changed), *band_args, update.alerts, time, len(stored), *stored],
        )

    def load_many(self, object_ids: Sequence[str], for_scoring: bool = False) -> list[StoredObject]:
        """Every stored band of each object (no bands when unknown), in two round trips;
        ``for_scoring``: with its latest scoring and its bands' coarse periodogram passes,
        read in the same two."""
        heads = self.client.pipeline(transaction=False)
        for oid in object_ids:
            heads.smembers(keys.bands(oid))
        band_lists = [sorted(b.decode() for b in bands) for bands in heads.execute()]
        bodies = self.client.pipeline(transaction=False)
        for oid, bands in zip(object_ids, band_lists, strict=True):
            bodies.hget(keys.meta(oid), "ver")
            _queue_bands_read(bodies, oid, bands)
            if for_scoring:
                bodies.get(keys.result(oid))
                for band in bands:
                    bodies.get(keys.coarse_pass(oid, band))
        replies = iter(bodies.execute())
        stored = []
        for oid, bands in zip(object_ids, band_lists, strict=True):
            version = int(next(replies) or 0)
            parts = _bands_reply(replies, bands, self.cluster)
            accs = {
                band: self._band(*found)[0]
                for band, found in parts.items()
                if found[0] is not None or found[2] is not None
            }
            if not for_scoring:
                stored.append(StoredObject(oid, version, accs))
                continue
            last = _last_scoring(next(replies))
            passes = {band: next(replies) for band in bands}
            stored.append(StoredObject(oid, version, accs, last, passes))
        return stored

    def load(self, object_id: str) -> dict[str, DmDtAccumulator]:
        """Every stored band of the object (empty when unknown)."""
        return self.load_many([object_id])[0].bands

    def save_results(self, bodies: Mapping[str, str], scored_at: float) -> list[str]:
        """Write each object's latest classification (object id -> the
        :class:`~stream.results.StreamResult` JSON the results topic got, all scored at
        ``scored_at``), its history (the last :data:`~stream.keys.HISTORY`) and its place in
        the latest ranking, in two round trips. A result computed from an older version of
        the object than the one Redis holds (two workers scored it in turn, the later one
        finishing first) is not written; returns those objects."""
        items = list(bodies.items())
        written = self._save_result.run(
            [
                (
                    [keys.result(oid), keys.history(oid)],
                    [body, json.loads(body)["data_version"], keys.HISTORY - 1],
                )
                for oid, body in items
            ]
        )
        kept = [oid for (oid, _), done in zip(items, written, strict=True) if done]
        superseded = [oid for (oid, _), done in zip(items, written, strict=True) if not done]
        if kept:
            pipe = self.client.pipeline(transaction=False)
            pipe.zadd(keys.LATEST, dict.fromkeys(kept, scored_at))
            pipe.zremrangebyrank(keys.LATEST, 0, -keys.LATEST_KEPT - 1)
            pipe.execute()
        return superseded

    def keep_coarse_passes(self, passes: Mapping[tuple[str, str], bytes]) -> None:
        """Keep each (object, band)'s coarse periodogram pass (bytes), in one round trip."""
        if not passes:
            return
        pipe = self.client.pipeline(transaction=False)
        for (oid, band), blob in passes.items():
            pipe.set(keys.coarse_pass(oid, band), blob)
        pipe.execute()

    def add_to_survey_backgrounds(self, sums: Mapping[tuple[str, str], ImageSum]) -> None:
        """Add to each (survey, band)'s background on the store's grid a sum of images (in
        the model images' units), in one round trip; each update is one atomic script, so
        workers add side by side (:mod:`classifier.survey_background`)."""
        if not sums:
            return
        fingerprint = self.grid.fingerprint
        rows, columns = self.grid.shape
        self._add_to_background.run(
            [
                (
                    [
                        keys.survey_background(fingerprint, survey, band),
                        keys.survey_backgrounds(fingerprint),
                    ],
                    [images, HALF_LIFE_IMAGES, rows, columns, f"{survey}:{band}", repr(weight)]
                    + [repr(value) for value in total.astype(np.float64).ravel().tolist()],
                )
                for (survey, band), (total, images, weight) in sums.items()
            ]
        )

    def survey_backgrounds(self) -> list[SurveyBackground]:
        """Every survey and band's background on the store's grid, in name order. One that
        cannot be read (written on another grid, or damaged) is left out and logged; the
        next images added start it afresh."""
        fingerprint = self.grid.fingerprint
        members: set[bytes] = self.client.smembers(keys.survey_backgrounds(fingerprint))  # type: ignore[assignment]
        pairs = [member.decode().split(":", 1) for member in sorted(members)]
        if not pairs:
            return []
        pipe = self.client.pipeline(transaction=False)
        for survey, band in pairs:
            pipe.get(keys.survey_background(fingerprint, survey, band))
        found = []
        for (survey, band), blob in zip(pairs, pipe.execute(), strict=True):
            if blob is None:
                continue
            try:
                found.append(SurveyBackground.from_json(survey, band, blob, self.grid.shape))
            except SurveyBackgroundError as error:
                log.warning("survey background left out: %s", error)
        return found

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
