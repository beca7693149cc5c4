"""Prometheus metrics of the HTTP API (names ``dmdt_*``, seconds as the unit)."""

from prometheus_client import Histogram

API_LATENCY = Histogram(
    "dmdt_api_request_seconds",
    "HTTP request handling time, by route and status",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
