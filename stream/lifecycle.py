"""The one lifecycle of both stream processes (ingest and worker), in the spirit of ALeRCE's
step: take a batch -> process it (execute and produce, deliveries confirmed) -> commit.

A :class:`Step` says how to do each part; :func:`run` and :func:`run_once` drive it and handle
the infrastructure failing in one place: Redis unreachable or timing out, writers conflicting
on an object, or the broker not acknowledging what was produced. The batch is then *not*
committed: the step's :meth:`Step.retry` leaves it to be taken again (ingest rewinds to it;
the worker puts its claims back in the queue), the failure is logged and counted, and the
loop pauses before going on. Every write of both steps is idempotent, so doing a batch again
changes nothing that was already done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sized
from typing import Protocol, TypeVar

import redis

from classifier.readers.lsst_schemas import SchemaRegistryError
from stream import metrics
from stream.delivery import DeliveryError
from stream.store import StoreConflictError

log = logging.getLogger("dmdt.stream")
RETRY_PAUSE_S = 1.0

# infrastructure failure -> the reason it is counted under
INFRASTRUCTURE_ERRORS: dict[type[Exception], str] = {
    redis.ConnectionError: "redis",
    redis.TimeoutError: "redis",
    StoreConflictError: "redis",
    DeliveryError: "kafka",
    SchemaRegistryError: "schema-registry",
}
_CAUGHT = tuple(INFRASTRUCTURE_ERRORS)

Batch = TypeVar("Batch", bound=Sized)
Batch_contra = TypeVar("Batch_contra", bound=Sized, contravariant=True)
Outcome = TypeVar("Outcome")
Outcome_co = TypeVar("Outcome_co", covariant=True)


class Step(Protocol[Batch, Outcome_co]):
    """One stream process: what it takes, does, and commits."""

    name: str

    def take(self) -> Batch | None:
        """The next batch, or None when there is none for now."""
        ...

    def process(self, batch: Batch) -> Outcome_co:
        """Execute and produce; every message produced is delivered when this returns."""
        ...

    def commit(self, batch: Batch) -> None:
        """The batch's output is safe: commit its offsets, or acknowledge its claims."""
        ...

    def retry(self, batch: Batch, reason: str) -> None:
        """The batch was not done (``reason``: redis or kafka): leave it to be taken again."""
        ...

    def housekeeping(self) -> None:
        """Periodic duties between batches (consumer lag, expired claims)."""
        ...

    def close(self) -> None:
        """Stop: flush what is pending, leave the consumer group."""
        ...


def handle(step: Step[Batch, Outcome], batch: Batch) -> Outcome:
    """Process then commit one batch; infrastructure errors propagate."""
    outcome = step.process(batch)
    step.commit(batch)
    return outcome


def _failed(step: Step, error: Exception, size: int | None) -> str:
    reason = next(r for kind, r in INFRASTRUCTURE_ERRORS.items() if isinstance(error, kind))
    metrics.STEP_FAILURES.labels(step.name, reason).inc()
    what = "" if size is None else f"; the batch of {size} will be read again"
    log.warning("%s: %s unavailable (%s)%s", step.name, reason, error, what)
    return reason


def run_once(
    step: Step[Batch, Outcome], batch: Batch, pause_s: float = RETRY_PAUSE_S
) -> Outcome | None:
    """:func:`handle` one batch; on an infrastructure failure leave it to be taken again,
    pause ``pause_s`` and return None."""
    try:
        return handle(step, batch)
    except _CAUGHT as error:
        reason = _failed(step, error, len(batch))
    try:
        step.retry(batch, reason)
    except _CAUGHT as error:  # e.g. Redis still down: the claims' lease takes over
        _failed(step, error, None)
    time.sleep(pause_s)
    return None


def run(step: Step, stop: threading.Event, pause_s: float = RETRY_PAUSE_S) -> None:
    """Take, process and commit batches until ``stop`` is set; then :meth:`Step.close`."""
    try:
        while not stop.is_set():
            try:
                step.housekeeping()
                batch = step.take()
            except _CAUGHT as error:
                _failed(step, error, None)
                time.sleep(pause_s)
                continue
            if batch is not None:
                run_once(step, batch, pause_s)
    finally:
        step.close()
