"""Per-object photometry and dm-dt counts in Redis, updated incrementally and idempotently.

Keys of one object share the hash tag ``{objectId}`` (one Redis Cluster slot, so one
transaction can cover them all):

* ``dmdt:{oid}:acc:<band>``: the band's :class:`~classifier.accumulator.DmDtAccumulator`
  bytes (points and raw counts on the model's grid);
* ``dmdt:{oid}:bands``: the set of bands stored;
* ``dmdt:{oid}:candids``: the set of stored detection ids (``candid``);
* ``dmdt:{oid}:meta``: a hash (alerts that brought new points, last alert time).

An alert's points go in with an optimistic transaction (WATCH, read, add in O(n) per point,
MULTI/EXEC, retry on a concurrent change). A redelivered alert, or a point repeated in
``prv_candidates``, is recognised by its candid: an alert without new points writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import redis

from classifier.accumulator import DmDtAccumulator
from classifier.grid import DmDtGrid
from classifier.readers.ztf import BandPoint

PREFIX = "dmdt"
MAX_RETRIES = 50


class StoreConflictError(RuntimeError):
    """Concurrent writers kept changing the object; the caller should retry the message."""


def _key(object_id: str, *parts: str) -> str:
    return ":".join([PREFIX, f"{{{object_id}}}", *parts])


@dataclass(frozen=True)
class StoreResult:
    object_id: str
    new_points: dict[str, int]  # per band
    points: dict[str, int]  # per band, after the update

    @property
    def changed(self) -> bool:
        return any(self.new_points.values())


class ObjectStore:
    """Reads and updates objects' accumulators in Redis (or Valkey)."""

    def __init__(self, client: redis.Redis, grid: DmDtGrid) -> None:
        self.client = client
        self.grid = grid

    def add_points(
        self,
        object_id: str,
        band_points: dict[str, list[BandPoint]],
        alert_time: float | None = None,
    ) -> StoreResult:
        """Store the points not stored yet; idempotent, atomic per object."""
        candids_key = _key(object_id, "candids")
        band_keys = {band: _key(object_id, "acc", band) for band in band_points}
        all_points = [p for points in band_points.values() for p in points]
        for _ in range(MAX_RETRIES):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(candids_key, *band_keys.values())
                    known = (
                        pipe.smismember(candids_key, [p.candid for p in all_points])
                        if all_points
                        else []
                    )
                    seen = {
                        p.candid for p, is_known in zip(all_points, known, strict=True) if is_known
                    }
                    fresh = {
                        band: [p for p in points if p.candid not in seen]
                        for band, points in band_points.items()
                    }
                    updated = {}
                    for band, points in fresh.items():
                        if not points:
                            continue
                        blob = pipe.get(band_keys[band])
                        acc = (
                            DmDtAccumulator(self.grid)
                            if blob is None
                            else DmDtAccumulator.from_bytes(blob, self.grid)
                        )
                        acc.add_many(
                            np.array([p.mjd for p in points]),
                            np.array([p.mag for p in points]),
                            np.array([p.err for p in points]),
                        )
                        updated[band] = acc
                    if updated:
                        pipe.multi()
                        for band, acc in updated.items():
                            pipe.set(band_keys[band], acc.to_bytes())
                        pipe.sadd(_key(object_id, "bands"), *updated)
                        pipe.sadd(
                            candids_key, *[p.candid for points in fresh.values() for p in points]
                        )
                        meta = _key(object_id, "meta")
                        pipe.hincrby(meta, "alerts", 1)
                        if alert_time is not None:
                            pipe.hset(meta, "last_alert_time", alert_time)
                        pipe.execute()
                except redis.WatchError:
                    continue
            return StoreResult(
                object_id,
                {band: len(points) for band, points in fresh.items()},
                {band: acc.n_points for band, acc in updated.items()},
            )
        raise StoreConflictError(f"{object_id}: {MAX_RETRIES} concurrent changes in a row")

    def load(self, object_id: str) -> dict[str, DmDtAccumulator]:
        """Every stored band of the object (empty when unknown)."""
        bands = sorted(b.decode() for b in self.client.smembers(_key(object_id, "bands")))
        if not bands:
            return {}
        blobs = self.client.mget([_key(object_id, "acc", band) for band in bands])
        return {
            band: DmDtAccumulator.from_bytes(blob, self.grid)
            for band, blob in zip(bands, blobs, strict=True)
            if blob is not None
        }
