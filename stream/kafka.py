"""Kafka topics the service uses, created when missing."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


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
