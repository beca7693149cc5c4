"""Kafka client settings and topics, shared by every process that talks to the broker."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from stream.defaults import FETCH_WAIT_MS


def ensure_topics(bootstrap: str, topics: list[str], partitions: int = 4) -> None:
    """Create each of ``topics`` that does not exist yet (replication 1: the embedded broker;
    a production cluster's topics are made by its operators)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
    for future in admin.create_topics(wanted).values() if wanted else []:
        try:
            future.result(15)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def consumer_config(bootstrap: str, group: str, fetch_wait_ms: int = FETCH_WAIT_MS) -> dict:
    """Manual commits; short session timeouts, so a group (re)joins in seconds, not ~25.

    ``fetch_wait_ms``: a broker may hold an empty fetch this long even after data arrives
    (Tansu does): librdkafka's 500 ms default put ~250 ms into the median alert->result
    latency. A broker whose storage answers slower than this (Tansu on S3: ~80 ms a fetch)
    answers every fetch empty, so raise it there.
    """
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "fetch.max.bytes": 64 << 20,
        "max.partition.fetch.bytes": 16 << 20,  # 1 MiB default: ~18 ZTF alerts a request
        "fetch.wait.max.ms": fetch_wait_ms,
    }


def producer_config(bootstrap: str) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "compression.type": "none",
        "message.max.bytes": 8 << 20,
    }
