"""Alert producers: alert files and light curves sent to Kafka as alert streams
(:mod:`~sources.replay`), and the conversion of a light curve into ZTF-like alert packets
(:mod:`~sources.ztf_alerts`), for ``dmdt replay``, the demo, benchmarks and tests."""
