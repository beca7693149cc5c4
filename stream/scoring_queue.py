"""The objects waiting to be scored: a Redis sorted set, object id -> oldest alert time.

Several alerts of one object before the worker gets to it coalesce into one entry (``ZADD LT``
keeps the earliest time, so latency is measured from the oldest unscored alert). The worker
takes batches the way Triton's dynamic batcher forms them: it waits for a first object, then
up to ``max_wait`` for more, and stops early at ``max_size``.

Taking is a *claim*, not a pop: one script moves the objects from the queue into a hash of
claims (object -> alert time and claim time); the worker acknowledges them once their results
are written. Claims older than a lease (a worker killed mid-batch) go back to the queue, so no
object waits for its next alert to be scored. Both keys share one hash tag (one Redis Cluster
slot) so the scripts can touch both (:mod:`stream.keys`).

An object the worker's rescoring policy (:mod:`stream.rescoring`) does not score yet is
*deferred*: it moves from the claims to the shard's deferred set (object -> the time it is
due), its oldest alert time kept beside it; the claim script first moves the deferred objects
that are due back into the queue. New alerts of a deferred object queue it as usual.

The queue can be split into ``shards`` (``DMDT_QUEUE_SHARDS``, the same in every process): an
object always goes to shard ``crc32(id) % shards``, and a worker claims from the shards in
turn, so on a Redis Cluster the queue is spread over as many slots (and nodes) as shards
instead of being one hot slot.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stream import keys
from stream.redis_client import RedisClient

_FIRST_POLL_S, _MAX_POLL_S = 0.001, 0.01

# KEYS: queue, claims, deferred, deferred alert times.  ARGV: count, now.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[2], 'LIMIT', 0, 1000)
for i = 1, #due do
  local since = redis.call('ZSCORE', KEYS[4], due[i])
  redis.call('ZADD', KEYS[1], 'LT', since or ARGV[2], due[i])
  redis.call('ZREM', KEYS[3], due[i])
  redis.call('ZREM', KEYS[4], due[i])
end
local taken = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #taken, 2 do
  redis.call('HSET', KEYS[2], taken[i], taken[i + 1] .. ' ' .. ARGV[2])
end
return taken
"""
_REQUEUE = """
local claims = redis.call('HGETALL', KEYS[2])
local requeued = 0
for i = 1, #claims, 2 do
  local score, claimed = string.match(claims[i + 1], '(%S+) (%S+)')
  if tonumber(claimed) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], 'LT', score, claims[i])
    redis.call('HDEL', KEYS[2], claims[i])
    requeued = requeued + 1
  end
end
return requeued
"""


@dataclass(frozen=True)
class QueueState:
    waiting: int  # queued, to be claimed
    deferred: int  # held back by the rescoring policy
    oldest_alert_time: float | None  # of the alerts not yet scored, queued or deferred


def shard_of(object_id: str, shards: int) -> int:
    """The shard an object is queued in (stable across processes and restarts).

    >>> shard_of("ZTF18adljlvp", 1), shard_of("ZTF17aaacxxf", 4)
    (0, 3)
    """
    return zlib.crc32(object_id.encode()) % shards


class ScoringQueue:
    def __init__(self, client: RedisClient, shards: int = 1) -> None:
        if shards < 1:
            raise ValueError(f"a queue needs at least one shard, not {shards}")
        self.client = client
        self.shards = [keys.queue_shard(k) for k in range(shards)]
        self._claim = client.register_script(_CLAIM)
        self._requeue = client.register_script(_REQUEUE)
        self._turn = 0

    def _by_shard(self, object_ids: Iterable[str]) -> dict[str, list[str]]:
        """The objects of each shard that has any (no hashing when there is one shard)."""
        if len(self.shards) == 1:
            ids = list(object_ids)
            return {self.shards[0]: ids} if ids else {}
        grouped: dict[str, list[str]] = {}
        for oid in object_ids:
            grouped.setdefault(self.shards[shard_of(oid, len(self.shards))], []).append(oid)
        return grouped

    def push(self, alert_times: Mapping[str, float]) -> None:
        """Queue objects (object id -> alert time, seconds since the epoch)."""
        grouped = self._by_shard(alert_times)
        if not grouped:
            return
        pipe = self.client.pipeline(transaction=False)
        for shard, ids in grouped.items():
            pipe.zadd(shard, {oid: alert_times[oid] for oid in ids}, lt=True)
        pipe.execute()

    def _sum(self, command: str, suffix: str = "") -> int:
        pipe = self.client.pipeline(transaction=False)
        for shard in self.shards:
            getattr(pipe, command)(shard + suffix)
        return sum(int(n) for n in pipe.execute())

    def depth(self) -> int:
        """Objects waiting to be claimed (deferred ones aside)."""
        return self.state().waiting

    def claimed(self) -> int:
        return self._sum("hlen", keys.CLAIMS_SUFFIX)

    def claim(self, count: int) -> list[tuple[str, float]]:
        """Take up to ``count`` objects into the claims, oldest first within a shard, the
        shards in turn (so that none is left behind)."""
        taken: list = []
        for _ in range(len(self.shards)):
            if len(taken) // 2 >= count:  # taken: id, time, id, time...
                break
            shard = self.shards[self._turn]
            self._turn = (self._turn + 1) % len(self.shards)
            taken += self._claim(
                keys=[shard, keys.claims(shard), keys.deferred(shard), keys.deferred_since(shard)],
                args=[count - len(taken) // 2, repr(time.time())],
            )
        return [(taken[i].decode(), float(taken[i + 1])) for i in range(0, len(taken), 2)]

    def acknowledge(self, object_ids: Iterable[str]) -> None:
        """The objects' results are written: drop their claims."""
        for shard, ids in self._by_shard(object_ids).items():
            self.client.hdel(keys.claims(shard), *ids)

    def defer(self, items: Iterable[tuple[str, float, float]]) -> None:
        """Move claimed (object id, oldest alert time, due time) to the deferred sets: the
        claim script queues each again once due (the earliest due time and alert time of
        an object deferred twice are kept)."""
        found = {oid: (since, due) for oid, since, due in items}
        for shard, ids in self._by_shard(found).items():
            pipe = self.client.pipeline(transaction=True)  # the keys share one slot
            pipe.zadd(keys.deferred(shard), {oid: found[oid][1] for oid in ids}, lt=True)
            pipe.zadd(keys.deferred_since(shard), {oid: found[oid][0] for oid in ids}, lt=True)
            pipe.hdel(keys.claims(shard), *ids)
            pipe.execute()

    def state(self) -> QueueState:
        """What waits, in one round trip over every shard."""
        pipe = self.client.pipeline(transaction=False)
        for shard in self.shards:
            pipe.zcard(shard)
            pipe.zcard(keys.deferred(shard))
            pipe.zrange(shard, 0, 0, withscores=True)
            pipe.zrange(keys.deferred_since(shard), 0, 0, withscores=True)
        replies = pipe.execute()
        times = [score for reply in replies[2::4] + replies[3::4] for _, score in reply]
        return QueueState(sum(replies[0::4]), sum(replies[1::4]), min(times, default=None))

    def release(self, claims: Iterable[tuple[str, float]]) -> None:
        """Put claimed (object id, alert time) back in the queue now: their batch failed."""
        taken = dict(claims)
        for shard, ids in self._by_shard(taken).items():
            pipe = self.client.pipeline(transaction=True)  # both keys share one slot
            pipe.zadd(shard, {oid: taken[oid] for oid in ids}, lt=True)
            pipe.hdel(keys.claims(shard), *ids)
            pipe.execute()

    def requeue_expired(self, lease_s: float) -> int:
        """Put back claims older than ``lease_s`` (their worker died); returns how many."""
        cutoff = repr(time.time() - lease_s)
        return sum(
            int(self._requeue(keys=[shard, keys.claims(shard)], args=[cutoff]))
            for shard in self.shards
        )

    def pop_batch(
        self, max_size: int, max_wait_s: float, block_s: float = 1.0
    ) -> list[tuple[str, float]]:
        """Claim up to ``max_size`` (object id, alert time), oldest first; empty after
        ``block_s`` without any object."""
        give_up = time.monotonic() + block_s
        poll = _FIRST_POLL_S
        batch = self.claim(max_size)
        while not batch and time.monotonic() < give_up:
            time.sleep(poll)
            poll = min(poll * 2, _MAX_POLL_S)
            batch = self.claim(max_size)
        deadline = time.monotonic() + max_wait_s
        while batch and len(batch) < max_size and time.monotonic() < deadline:
            time.sleep(min(_FIRST_POLL_S, max(0.0, deadline - time.monotonic())))
            batch.extend(self.claim(max_size - len(batch)))
        return batch
