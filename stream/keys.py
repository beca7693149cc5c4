"""The Redis key layout of the stream: the only module that spells a key.

Keys of one object share the hash tag ``{objectId}`` (one Redis Cluster slot, so one script
can cover them all):

* ``dmdt:{oid}:pts:<band>``: the band's points, 24-byte records appended as they come, and
  ``dmdt:{oid}:cnt:<band>``: its raw dm-dt counts (the two-part encoding of
  :mod:`classifier.accumulator`);
* ``dmdt:{oid}:acc:<band>``: the older one-blob encoding (points and counts), read when a
  band has no ``pts`` yet and replaced by the two parts at the band's next write;
* ``dmdt:{oid}:bands``: the set of bands stored;
* ``dmdt:{oid}:candids``: the set of stored detection ids (``candid``);
* ``dmdt:{oid}:meta``: a hash: ``ver`` (bumped by every change), ``alerts``,
  ``last_alert_time``;
* ``dmdt:{oid}:result``: the worker's latest classification (JSON);
* ``dmdt:{oid}:history``: its last :data:`HISTORY` classifications, newest first (a list);
* ``dmdt:{oid}:pgram:<band>``: the band's last coarse periodogram pass, which the worker
  reuses while the band grows (:class:`classifier.periodogram.CoarsePass`).

``{dmdt:bg}:<grid>:<survey>:<band>`` is the survey's cadence background measured by the
workers (:mod:`classifier.survey_background`, JSON), one per grid fingerprint, survey and
band; ``{dmdt:bg}:<grid>`` is the set of its ``<survey>:<band>`` names (one slot for all).

``{dmdt:latest}`` ranks the objects by the time of their latest classification (the web
page's live view), trimmed to the newest :data:`LATEST`.

The scoring queue is sharded: shard 0 is ``{dmdt:queue}`` (object -> oldest alert time),
shard k ``{dmdt:queue:k}``, each with its claims ``<shard>:claimed`` and the objects the
rescoring policy holds back, ``<shard>:deferred`` (object -> due time) and
``<shard>:deferred:since`` (object -> oldest alert time), under the same hash tag so one
script can move objects between them; the shards spread the queue over a cluster's slots
(one shard is the whole queue, as before shards).
"""

from __future__ import annotations

PREFIX = "dmdt"
QUEUE = "{dmdt:queue}"
LATEST = "{dmdt:latest}"
BACKGROUNDS = "{dmdt:bg}"
HISTORY = 20  # classifications kept per object
LATEST_KEPT = 1000  # objects kept in the latest ranking
CLAIMS_SUFFIX = ":claimed"
DEFERRED_SUFFIX = ":deferred"


def hash_tag(object_id: str) -> str:
    """The object id as a Redis Cluster hash tag: ``%`` and ``}`` percent-encoded, so that
    the tag is never cut short (an id starting with ``}`` would give the empty tag ``{}``,
    which Redis ignores, scattering one object's keys over several slots) and two ids never
    share a key. Ordinary ids (ZTF, LSST, CSS) are unchanged.

    Examples
    --------
    >>> hash_tag("ZTF18adljlvp"), hash_tag("}x"), hash_tag("%7Dx")
    ('{ZTF18adljlvp}', '{%7Dx}', '{%257Dx}')
    """
    return "{" + object_id.replace("%", "%25").replace("}", "%7D") + "}"


def object_key(object_id: str, *parts: str) -> str:
    """``dmdt:{objectId}:part...``: every key of one object in one hash slot."""
    return ":".join([PREFIX, hash_tag(object_id), *parts])


def meta(object_id: str) -> str:
    return object_key(object_id, "meta")


def candids(object_id: str) -> str:
    return object_key(object_id, "candids")


def bands(object_id: str) -> str:
    return object_key(object_id, "bands")


def points(object_id: str, band: str) -> str:
    return object_key(object_id, "pts", band)


def counts(object_id: str, band: str) -> str:
    return object_key(object_id, "cnt", band)


def older(object_id: str, band: str) -> str:
    """The band's state in the one-blob encoding of earlier versions."""
    return object_key(object_id, "acc", band)


def result(object_id: str) -> str:
    return object_key(object_id, "result")


def queue_shard(shard: int) -> str:
    """The key of the scoring queue's shard ``shard``.

    >>> queue_shard(0), queue_shard(3)
    ('{dmdt:queue}', '{dmdt:queue:3}')
    """
    return QUEUE if shard == 0 else f"{{dmdt:queue:{shard}}}"


def history(object_id: str) -> str:
    return object_key(object_id, "history")


def coarse_pass(object_id: str, band: str) -> str:
    return object_key(object_id, "pgram", band)


def survey_backgrounds(grid_fingerprint: str) -> str:
    """The set of ``<survey>:<band>`` names with a background on the grid."""
    return f"{BACKGROUNDS}:{grid_fingerprint}"


def survey_background(grid_fingerprint: str, survey: str, band: str) -> str:
    """A survey and band's cadence background on the grid."""
    return f"{BACKGROUNDS}:{grid_fingerprint}:{survey}:{band}"


def claims(queue: str) -> str:
    """The claims hash of a scoring queue."""
    return queue + CLAIMS_SUFFIX


def deferred(queue: str) -> str:
    """The objects a queue shard holds back (object -> the time they are due)."""
    return queue + DEFERRED_SUFFIX


def deferred_since(queue: str) -> str:
    """The oldest alert time of each deferred object."""
    return queue + DEFERRED_SUFFIX + ":since"
