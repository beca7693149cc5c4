"""The objects an ingest process wrote last, kept in memory with the version they were written
at, so that the next alert of a hot object costs one round trip to Redis and moves only what
it changes (:mod:`stream.store`).

An entry is a copy of Redis at one version, never the truth: the store writes with a
compare-and-set on that version, and an entry whose object another writer changed fails it
and is read again. Entries are evicted least recently used, within a memory budget counted
from their arrays.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from classifier.accumulator import DmDtAccumulator

CANDID_BYTES = 72  # a Python int in a set, about


@dataclass
class HotObject:
    """One object as last read or written: its version, every candid it holds, and the
    bands read so far (``full_write``: bands whose points must be written whole, not
    appended, because they were read from an older encoding). An entry from the cache is
    checked against Redis's version even when it has nothing to write: Redis may have lost
    what the cache remembers (a flush, a failover to a lagging replica)."""

    version: int
    candids: set[int]
    bands: dict[str, DmDtAccumulator]
    full_write: set[str] = field(default_factory=set)
    cached: bool = False  # taken from the cache (not read from Redis in this batch)

    def nbytes(self) -> int:
        arrays = sum(acc.nbytes for acc in self.bands.values())
        return arrays + CANDID_BYTES * len(self.candids)


class HotObjects:
    """A least-recently-used map of object id -> :class:`HotObject`, within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[HotObject, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, object_id: str) -> HotObject | None:
        found = self._entries.get(object_id)
        if found is None:
            return None
        self._entries.move_to_end(object_id)
        return found[0]

    def put(self, object_id: str, entry: HotObject) -> None:
        """Keep (or re-measure) ``entry``; evicts the least recently used beyond the budget."""
        self.drop(object_id)
        size = entry.nbytes()
        if size > self.max_bytes:
            return
        self._entries[object_id] = (entry, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted

    def drop(self, object_id: str) -> None:
        found = self._entries.pop(object_id, None)
        if found is not None:
            self._bytes -= found[1]
