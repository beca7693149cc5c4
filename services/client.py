"""A small Python client of a running dmdt-stream: the HTTP API (``POST /classify``,
``POST /classify/batch``, ``GET /objects/{id}``) and the results topic, filtered.

Examples
--------
Classify a light curve held in a table, and follow the stream's RR Lyrae::

    from classifier.interop import curves_from_table
    from services.client import DmdtClient, follow_results

    client = DmdtClient("http://127.0.0.1:8000")
    answers = client.classify_many(curves_from_table(table, time="mjd", band="filter"))
    state = client.get_object("ZTF18adljlvp")            # None when the stream has no such object
    for result in follow_results("127.0.0.1:9092", labels={"RRab", "RRc", "RRd"},
                                 min_probability=0.8, bands={"r"}):
        print(result.object_id, result.label, result.confidence)
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from classifier.lightcurve import LightCurve
from stream.results import StreamResult


class ClientError(RuntimeError):
    """The API refused a request: its status and what it said."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


def curve_body(curve: LightCurve) -> dict[str, Any]:
    """The JSON body of one curve, as ``POST /classify`` takes it."""
    body: dict[str, Any] = {"t": curve.t.tolist(), "mag": curve.mag.tolist(), "band": curve.band}
    if curve.err is not None:
        body["err"] = curve.err.tolist()
    if curve.object_id:
        body["object_id"] = curve.object_id
    return body


class DmdtClient:
    """The HTTP API at ``base_url`` (with ``api_key`` where the API asks for one)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = http or httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)

    def _answer(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise ClientError(response.status_code, detail)
        return response.json()

    def classify(self, curve: LightCurve, model: str | None = None, images: bool = False) -> dict:
        """One curve's classification (label, probabilities, confidence, unknown...)."""
        body = {**curve_body(curve), "model": model, "images": images}
        return self._answer(self.http.post("/classify", json=body))

    def classify_many(self, curves: Sequence[LightCurve], model: str | None = None) -> list[dict]:
        """Classifications of many curves in one request; a curve the model cannot take
        gets ``{"error": ...}`` in its place."""
        body = {"curves": [curve_body(c) for c in curves], "model": model}
        items = self._answer(self.http.post("/classify/batch", json=body))["items"]
        return [item.get("classification") or {"error": item["error"]} for item in items]

    def get_object(self, object_id: str, images: bool = False) -> dict | None:
        """What the stream holds of an object (None if nothing)."""
        response = self.http.get(f"/objects/{object_id}", params={"images": images})
        return None if response.status_code == 404 else self._answer(response)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DmdtClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ResultFilter:
    """Which results to keep: labels (any if None), at least ``min_probability`` for the
    label, bands (any if None), and unknown answers or not."""

    labels: Collection[str] | None = None
    min_probability: float = 0.0
    bands: Collection[str] | None = None
    include_unknown: bool = True

    def __call__(self, result: StreamResult) -> bool:
        return (
            (self.labels is None or result.label in self.labels)
            and result.confidence >= self.min_probability
            and (self.bands is None or result.band in self.bands)
            and (self.include_unknown or not result.unknown)
        )


def follow_results(
    bootstrap: str,
    topic: str = "dmdt-results",
    group: str | None = None,
    from_start: bool = False,
    idle_s: float | None = None,
    **keep: Any,
) -> Iterator[StreamResult]:
    """The results topic's classifications that pass :class:`ResultFilter` (``keep``: its
    fields), as they come; ends after ``idle_s`` without a message once every assigned
    partition has been read to its end (None: never). A message that is not a result is
    skipped."""
    from confluent_kafka import Consumer, KafkaError  # noqa: PLC0415 (only here needs Kafka)

    wanted = ResultFilter(**keep)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group or f"dmdt-client-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest" if from_start else "latest",
            "enable.auto.commit": group is not None,
            "enable.partition.eof": True,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    caught_up = _CaughtUp()
    consumer.subscribe([topic], on_assign=caught_up.assigned, on_revoke=caught_up.revoked)
    try:
        while True:
            wait = idle_s if idle_s is not None and caught_up.all() else None
            message = consumer.poll(1.0 if wait is None else wait)
            if message is None:
                if wait is not None:
                    return
                continue
            place = (str(message.topic()), int(message.partition() or 0))
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    caught_up.at_end.add(place)
                continue
            caught_up.at_end.discard(place)
            try:
                result = StreamResult.model_validate_json(message.value() or b"")
            except ValueError:
                continue
            if wanted(result):
                yield result
    finally:
        consumer.close()


class _CaughtUp:
    """Which assigned partitions a consumer has read to their end (their end-of-partition
    event came, and no message since)."""

    def __init__(self) -> None:
        self.partitions: set[tuple[str, int]] = set()
        self.at_end: set[tuple[str, int]] = set()

    def assigned(self, _consumer: object, parts: list) -> None:
        self.partitions |= {(p.topic, p.partition) for p in parts}

    def revoked(self, _consumer: object, parts: list) -> None:
        for p in parts:
            self.partitions.discard((p.topic, p.partition))
            self.at_end.discard((p.topic, p.partition))

    def all(self) -> bool:
        return bool(self.partitions) and self.partitions <= self.at_end
