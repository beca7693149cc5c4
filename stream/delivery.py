"""Producing to Kafka with every message's delivery confirmed before anything is committed.

``Producer.produce`` only queues a message; the broker may still refuse it, or never answer.
:class:`Delivery` counts the broker's answers: :meth:`Delivery.confirm` raises
:class:`DeliveryError` unless every message sent since the last confirmation was acknowledged,
so that a step commits offsets, or acknowledges claims, only for output that is safe.

Two kinds of refusal are told apart. A message refused for what it *is* (larger than the
client's or the broker's limit, an invalid record) raises :class:`RefusedMessageError`, a
``ValueError``: sending it again cannot help, the stream lifecycle sets its item aside. Any
other failure (a broker down, a timeout) is the infrastructure's: :class:`DeliveryError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException

_DRAIN_S = 0.05

# what the client or the broker says of a message that can never be delivered as it is
_MESSAGE_FAULTS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError._INVALID_ARG,
        KafkaError._BAD_MSG,
    }
)


class BrokerError(RuntimeError):
    """The broker cannot be reached or does not answer: an infrastructure failure."""


class DeliveryError(BrokerError):
    """Messages the broker did not acknowledge: what produced them must be done again."""


class RefusedMessageError(ValueError):
    """A message that can never be delivered as it is (too large, invalid)."""


def _is_message_fault(error: object) -> bool:
    return isinstance(error, KafkaError) and error.code() in _MESSAGE_FAULTS


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
        self._faulty: list[str] = []

    def _answered(self, error: object, _message: object) -> None:
        if error is not None:
            (self._faulty if _is_message_fault(error) else self._refused).append(str(error))

    def send(
        self,
        topic: str,
        value: bytes | str | None,
        key: bytes | str | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue one message (waiting for room when the local queue is full);
        :class:`RefusedMessageError` if the client refuses it for what it is."""
        while True:
            try:
                self.producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=self._answered
                )
                return
            except BufferError:
                self.producer.poll(_DRAIN_S)
            except KafkaException as error:
                if not _is_message_fault(error.args[0] if error.args else None):
                    raise BrokerError(f"the producer failed: {error}") from error
                size = len(value or b"")
                raise RefusedMessageError(
                    f"a message of {size} bytes to {topic}: {error}"
                ) from None

    def confirm(self) -> None:
        """Wait for the broker's answers; :class:`RefusedMessageError` if it refused a message
        for what it is, else :class:`DeliveryError` unless it took them all."""
        left = self.producer.flush(self.timeout_s)
        faulty, self._faulty = self._faulty, []
        refused, self._refused = self._refused, []
        if faulty:
            raise RefusedMessageError(f"{len(faulty)} messages refused by the broker ({faulty[0]})")
        if left > 0 or refused:
            problems = [f"{left} unacknowledged after {self.timeout_s:g} s"] if left else []
            problems += [f"{len(refused)} refused ({refused[0]})"] if refused else []
            raise DeliveryError(f"messages not delivered: {', '.join(problems)}")
