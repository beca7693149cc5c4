"""The one lifecycle of both stream processes (ingest and worker), in the spirit of ALeRCE's
step: take a batch -> process it (execute and produce, deliveries confirmed) -> commit.

A :class:`Step` says how to do each part; :func:`run` and :func:`run_once` drive it and apply
one rule to everything that goes wrong:

* the **infrastructure** failing (Redis unreachable, out of memory or refusing, the broker
  not acknowledging what was produced, the schema registry silent): the batch is *not*
  committed; the step's :meth:`Step.retry` leaves it to be taken again (ingest rewinds to it;
  the worker puts its claims back in the queue), the failure is logged and counted, and the
  loop pauses, longer after each failure in a row (:class:`Backoff`), before going on;
* anything else is taken to be caused by **one item of the input**: the batch is done again
  item by item, in order, and the item that fails is handed to :meth:`Step.reject` (ingest
  dead-letters the message, the worker drops the object's claim), counted, and committed
  past. The process never exits on input.

Every write of both steps is idempotent, so doing a batch again changes nothing that was
already done.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, TypeVar

import redis

from classifier.readers.lsst_schemas import SchemaRegistryError
from stream import metrics
from stream.delivery import BrokerError

log = logging.getLogger("dmdt.stream")
RETRY_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0
REASON_CHARS = 500  # a rejection's reason, as logged and sent on

# infrastructure failure -> the reason it is counted under (StoreConflictError is a
# RedisError too: writers that kept changing an object; DeliveryError a BrokerError)
INFRASTRUCTURE_ERRORS: dict[type[Exception], str] = {
    redis.RedisError: "redis",
    BrokerError: "kafka",
    SchemaRegistryError: "schema-registry",
}
_CAUGHT = tuple(INFRASTRUCTURE_ERRORS)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Outcome_co = TypeVar("Outcome_co", covariant=True)


class Step(Protocol[Item, Outcome_co]):
    """One stream process: what it takes, does, and commits, a batch being a list of items."""

    name: str

    def take(self) -> list[Item] | None:
        """The next batch, or None when there is none for now."""
        ...

    def process(self, batch: list[Item]) -> Outcome_co:
        """Execute and produce; every message produced is delivered when this returns."""
        ...

    def commit(self, batch: list[Item]) -> None:
        """The batch's output is safe: commit its offsets, or acknowledge its claims."""
        ...

    def retry(self, batch: list[Item], reason: str) -> None:
        """The batch was not done (``reason``: redis or kafka): leave it to be taken again."""
        ...

    def reject(self, item: Item, reason: str) -> None:
        """``item`` cannot be processed (``reason``): set it aside for good, its output
        delivered (a dead letter), so that committing past it loses nothing silently."""
        ...

    def housekeeping(self) -> None:
        """Periodic duties between batches (consumer lag, expired claims)."""
        ...

    def close(self) -> None:
        """Stop: flush what is pending, leave the consumer group."""
        ...


class Backoff:
    """Pauses after infrastructure failures: ``first_s``, doubling for each failure in a
    row up to ``max_s``; a success starts again from ``first_s``. A pause ends early when
    ``stop`` is set (a SIGTERM is obeyed at once)."""

    def __init__(
        self,
        first_s: float = RETRY_PAUSE_S,
        max_s: float = MAX_PAUSE_S,
        stop: threading.Event | None = None,
    ) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.next_s = first_s
        self.stop = stop or threading.Event()

    def pause(self) -> None:
        self.stop.wait(self.next_s)
        self.next_s = min(self.max_s, max(self.next_s * 2, self.first_s))

    def reset(self) -> None:
        self.next_s = self.first_s


def handle(step: Step[Item, Outcome], batch: list[Item]) -> Outcome:
    """Process then commit one batch; every error propagates."""
    outcome = step.process(batch)
    step.commit(batch)
    return outcome


def _failed(step: Step, error: Exception, size: int | None) -> str:
    reason = next(r for kind, r in INFRASTRUCTURE_ERRORS.items() if isinstance(error, kind))
    metrics.STEP_FAILURES.labels(step.name, reason).inc()
    what = "" if size is None else f"; the batch of {size} will be read again"
    log.warning("%s: %s unavailable (%s)%s", step.name, reason, error, what)
    return reason


def _rejected(step: Step[Item, Outcome], item: Item, error: Exception) -> None:
    reason = f"{type(error).__name__}: {error}"
    if len(reason) > REASON_CHARS:
        reason = reason[:REASON_CHARS] + "..."
    metrics.STEP_REJECTED.labels(step.name).inc()
    log.error("%s: an item failed on its own and is set aside: %s", step.name, reason)
    step.reject(item, reason)
    step.commit([item])


def _retry(step: Step[Item, Outcome], batch: list[Item], error: Exception, backoff: Backoff):
    reason = _failed(step, error, len(batch))
    try:
        step.retry(batch, reason)
    except _CAUGHT as again:  # e.g. Redis still down: the claims' lease takes over
        _failed(step, again, None)
    backoff.pause()


def run_once(
    step: Step[Item, Outcome],
    batch: list[Item],
    pause_s: float = RETRY_PAUSE_S,
    backoff: Backoff | None = None,
) -> Outcome | None:
    """:func:`handle` one batch. On an infrastructure failure leave it to be taken again,
    pause (``backoff``, else ``pause_s``) and return None. On any other error do the batch
    again item by item, rejecting the items that fail on their own, and return None."""
    backoff = backoff or Backoff(pause_s)
    try:
        outcome = handle(step, batch)
    except _CAUGHT as error:
        _retry(step, batch, error, backoff)
        return None
    except Exception as error:  # caused by the input: find the item(s) and set them aside
        log.warning("%s: batch of %d failed (%s); item by item", step.name, len(batch), error)
        _item_by_item(step, batch, error, backoff)
        return None
    backoff.reset()
    return outcome


def _own_failure(step: Step[Item, Outcome], item: Item) -> Exception | None:
    """:func:`handle` ``item`` alone: None if done, else the error it failed with on its own
    (infrastructure errors propagate)."""
    try:
        handle(step, [item])
    except _CAUGHT:
        raise
    except Exception as own:
        return own
    return None


def _item_by_item(
    step: Step[Item, Outcome], batch: list[Item], error: Exception, backoff: Backoff
) -> None:
    """Redo ``batch`` (which failed with ``error``) item by item, setting aside each item
    that fails on its own; a batch of one is not done again."""
    for k, item in enumerate(batch):
        try:
            own = error if len(batch) == 1 else _own_failure(step, item)
            if own is not None:
                _rejected(step, item, own)
        except _CAUGHT as failure:  # stop here: commit nothing past an item not done
            _retry(step, batch[k:], failure, backoff)
            return
    backoff.reset()


def run(step: Step, stop: threading.Event, pause_s: float = RETRY_PAUSE_S) -> None:
    """Take, process and commit batches until ``stop`` is set; then :meth:`Step.close`."""
    backoff = Backoff(pause_s, stop=stop)
    try:
        while not stop.is_set():
            try:
                step.housekeeping()
                batch = step.take()
            except _CAUGHT as error:
                _failed(step, error, None)
                backoff.pause()
                continue
            if batch is not None:
                run_once(step, batch, backoff=backoff)
    finally:
        step.close()
