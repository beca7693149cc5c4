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
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import redis

from stream import keys

_FIRST_POLL_S, _MAX_POLL_S = 0.001, 0.01

_CLAIM = """
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


class ScoringQueue:
    def __init__(self, client: redis.Redis, key: str = keys.QUEUE) -> None:
        self.client = client
        self.key = key
        self.claims_key = keys.claims(key)
        self._claim = client.register_script(_CLAIM)
        self._requeue = client.register_script(_REQUEUE)

    def push(self, alert_times: Mapping[str, float]) -> None:
        """Queue objects (object id -> alert time, seconds since the epoch)."""
        if alert_times:
            self.client.zadd(self.key, dict(alert_times), lt=True)

    def depth(self) -> int:
        return int(self.client.zcard(self.key))

    def claimed(self) -> int:
        return int(self.client.hlen(self.claims_key))

    def claim(self, count: int) -> list[tuple[str, float]]:
        """Take up to ``count`` objects, oldest first, into the claims."""
        taken = self._claim(keys=[self.key, self.claims_key], args=[count, repr(time.time())])
        return [(taken[i].decode(), float(taken[i + 1])) for i in range(0, len(taken), 2)]

    def acknowledge(self, object_ids: Iterable[str]) -> None:
        """The objects' results are written: drop their claims."""
        ids = list(object_ids)
        if ids:
            self.client.hdel(self.claims_key, *ids)

    def release(self, claims: Iterable[tuple[str, float]]) -> None:
        """Put claimed (object id, alert time) back in the queue now: their batch failed."""
        taken = dict(claims)
        if taken:
            pipe = self.client.pipeline(transaction=True)  # both keys share one slot
            pipe.zadd(self.key, taken, lt=True)
            pipe.hdel(self.claims_key, *taken)
            pipe.execute()

    def requeue_expired(self, lease_s: float) -> int:
        """Put back claims older than ``lease_s`` (their worker died); returns how many."""
        cutoff = repr(time.time() - lease_s)
        return int(self._requeue(keys=[self.key, self.claims_key], args=[cutoff]))

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
