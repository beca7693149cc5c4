"""One Redis client for a single server or a Redis Cluster, and the one difference the store
must mind: a cluster pipeline takes no ``EVALSHA``, so scripts are queued there as ``EVAL``
(the server caches them by hash all the same)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import ClusterPipeline, RedisCluster
from redis.commands.core import Script

RedisClient = redis.Redis | RedisCluster


def connect(url: str, cluster: bool = False, **options: Any) -> RedisClient:
    """A client of the server at ``url``; with ``cluster``, of the Redis Cluster that node
    belongs to (the others are discovered, and MOVED answers and failovers followed)."""
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


def queue_script(pipe: Any, script: Script, keys: Sequence[str], args: Sequence[Any]) -> None:
    """Queue ``script`` on ``pipe`` (a pipeline of either kind)."""
    if isinstance(pipe, ClusterPipeline):
        pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
    else:
        script(keys=list(keys), args=list(args), client=pipe)
