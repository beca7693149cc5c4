"""Stream ingest: Kafka alert consumer and the Redis store of per-object points and dm-dt
counts. Alert decoding itself lives in :mod:`classifier.readers.ztf` so that files and Kafka
messages go through the same code."""
