"""One Redis client for a single server or a Redis Cluster, and the one difference the store
must mind: a cluster pipeline takes no ``EVALSHA``, so scripts are queued there as ``EVAL``
(the server caches them by hash all the same).

:class:`Script` runs a batch of calls of one script in one round trip: redis-py's own
scripts ask the server whether they are loaded (``SCRIPT EXISTS``) before every pipeline,
a round trip more on the stream's hot path."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import NoScriptError

RedisClient = redis.Redis | RedisCluster


def connect(url: str, cluster: bool = False, **options: Any) -> RedisClient:
    """A client of the server at ``url``; with ``cluster``, of the Redis Cluster that node
    belongs to (the others are discovered, and MOVED answers and failovers followed)."""
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


Call = tuple[Sequence[str], Sequence[Any]]  # keys, args


class Script:
    """A Lua script run by its hash, loaded when the server does not know it."""

    def __init__(self, client: RedisClient, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # the name Redis gives it

    def run(self, calls: Sequence[Call]) -> list[Any]:
        """Every call's reply, from one pipeline (``EVAL`` on a cluster). A server that
        lost its scripts ran none of them: the script is loaded and the calls sent again."""
        try:
            return self._pipeline(calls).execute()
        except NoScriptError:
            self.client.script_load(self.source)
            return self._pipeline(calls).execute()

    def _pipeline(self, calls: Sequence[Call]) -> Any:
        pipe = self.client.pipeline(transaction=False)
        command = "EVAL" if isinstance(pipe, ClusterPipeline) else "EVALSHA"
        body = self.source if command == "EVAL" else self.sha
        for keys, args in calls:
            pipe.execute_command(command, body, len(keys), *keys, *args)
        return pipe
