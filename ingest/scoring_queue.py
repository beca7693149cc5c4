"""The objects waiting to be scored: a Redis sorted set, object id -> oldest alert time.

Several alerts of one object before the worker gets to it coalesce into one entry (``ZADD LT``
keeps the earliest time, so latency is measured from the oldest unscored alert). The worker
pops batches the way Triton's dynamic batcher forms them: it waits for a first object, then up
to ``max_wait`` for more, and stops early at ``max_size``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import redis

QUEUE_KEY = "dmdt:queue"
_POLL_S = 0.001


class ScoringQueue:
    def __init__(self, client: redis.Redis, key: str = QUEUE_KEY) -> None:
        self.client = client
        self.key = key

    def push(self, alert_times: Mapping[str, float]) -> None:
        """Queue objects (object id -> alert time, seconds since the epoch)."""
        if alert_times:
            self.client.zadd(self.key, dict(alert_times), lt=True)

    def depth(self) -> int:
        return int(self.client.zcard(self.key))

    def pop_batch(
        self, max_size: int, max_wait_s: float, block_s: float = 1.0
    ) -> list[tuple[str, float]]:
        """Up to ``max_size`` (object id, alert time), oldest first; empty after ``block_s``
        without any object."""
        first = self.client.bzpopmin(self.key, timeout=block_s)
        if first is None:
            return []
        batch = [(first[1].decode(), float(first[2]))]
        deadline = time.monotonic() + max_wait_s
        while len(batch) < max_size:
            more = self.client.zpopmin(self.key, max_size - len(batch))
            batch.extend((member.decode(), float(score)) for member, score in more)
            if len(batch) >= max_size or time.monotonic() >= deadline:
                break
            if not more:
                time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
        return batch
