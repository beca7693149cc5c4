"""Producing to Kafka with every message's delivery confirmed before anything is committed.

``Producer.produce`` only queues a message; the broker may still refuse it, or never answer.
:class:`Delivery` counts the broker's answers: :meth:`Delivery.confirm` raises
:class:`DeliveryError` unless every message sent since the last confirmation was acknowledged,
so that a step commits offsets, or acknowledges claims, only for output that is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

_DRAIN_S = 0.05


class DeliveryError(RuntimeError):
    """Messages the broker did not acknowledge: what produced them must be done again."""


class KafkaProducer(Protocol):
    """The part of ``confluent_kafka.Producer`` a :class:`Delivery` uses."""

    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        callback: Callable[[Any, Any], None] | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...


class Delivery:
    """Sends messages through ``producer`` and confirms the broker took them."""

    def __init__(self, producer: KafkaProducer, timeout_s: float = 30.0) -> None:
        self.producer = producer
        self.timeout_s = timeout_s
        self._refused: list[str] = []

    def _answered(self, error: object, _message: object) -> None:
        if error is not None:
            self._refused.append(str(error))

    def send(
        self,
        topic: str,
        value: bytes | str | None,
        key: bytes | str | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue one message (waiting for room when the local queue is full)."""
        while True:
            try:
                self.producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=self._answered
                )
                return
            except BufferError:
                self.producer.poll(_DRAIN_S)

    def confirm(self) -> None:
        """Wait for the broker's answers; :class:`DeliveryError` unless it took them all."""
        left = self.producer.flush(self.timeout_s)
        refused, self._refused = self._refused, []
        if left > 0 or refused:
            problems = [f"{left} unacknowledged after {self.timeout_s:g} s"] if left else []
            problems += [f"{len(refused)} refused ({refused[0]})"] if refused else []
            raise DeliveryError(f"messages not delivered: {', '.join(problems)}")
