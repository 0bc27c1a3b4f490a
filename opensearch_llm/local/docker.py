"""The same node through testcontainers, for hosts where a Docker daemon answers."""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from opensearch_llm.errors import LocalNodeError, NodeStartError
from opensearch_llm.local.config import ML_SETTINGS
from opensearch_llm.local.node import NodeInfo, is_ready
from opensearch_llm.local.versions import resolve


def docker_available() -> bool:
    """True when a Docker daemon answers a ping."""
    try:
        import docker  # type: ignore[import-untyped]

        return bool(docker.from_env().ping())
    except Exception:  # noqa: BLE001 - any failure means "no usable daemon"
        return False


def _container_class() -> Any:
    try:
        from testcontainers.community.opensearch import OpenSearchContainer  # type: ignore
    except ImportError:
        from testcontainers.opensearch import OpenSearchContainer  # type: ignore
    return OpenSearchContainer


class DockerNode:
    """An OpenSearch container (the official image bundles ML Commons) with our ML settings.

    The container lives as long as this object (or the ``with`` block); ``local stop`` of a
    docker instance is not supported across processes.
    """

    def __init__(self, version: Optional[str] = None, *, port: Optional[int] = None,
                 name: str = "default", heap: str = "1g", ready_timeout: float = 180.0,
                 env: Optional[Mapping[str, str]] = None,
                 progress: Callable[[str], None] = lambda _m: None) -> None:
        self.version, self.line = resolve(version)
        self.name, self.heap, self.ready_timeout, self.progress = name, heap, ready_timeout, progress
        self.port = port
        self.env = dict(os.environ if env is None else env)
        self.container: Any = None
        self.info: Optional[NodeInfo] = None

    def __enter__(self) -> "DockerNode":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The node's URL as seen from this host."""
        if not self.info:
            raise LocalNodeError("docker node is not running")
        return self.info.url

    def start(self) -> NodeInfo:
        """Start the container and wait for cluster health and the ML plugin."""
        if not docker_available():
            raise LocalNodeError("no Docker daemon answers", hint="use --backend local")
        self.progress(f"starting opensearchproject/opensearch:{self.version} with testcontainers")
        container = _container_class()(image=f"opensearchproject/opensearch:{self.version}")
        container.with_env("OPENSEARCH_JAVA_OPTS", f"-Xms{self.heap} -Xmx{self.heap}")
        for key, value in ML_SETTINGS.items():
            container.with_env(key, value)
        container.with_kwargs(extra_hosts={"host.docker.internal": "host-gateway"})
        if self.port:
            container.with_bind_ports(9200, self.port)
        container.start()
        self.container = container
        cfg = container.get_config()
        url = f"http://{cfg['host']}:{cfg['port']}"
        try:
            Retrying(stop=stop_after_delay(self.ready_timeout), wait=wait_fixed(0.5),
                     retry=retry_if_result(lambda ok: not ok))(is_ready, url)
        except RetryError:
            logs = container.get_logs()[0].decode(errors="replace").splitlines()[-50:]
            self.stop()
            raise NodeStartError("OpenSearch container was not ready in time", log_tail="\n".join(logs)) from None
        self.info = NodeInfo(name=self.name, url=url, version=self.version, pid=0, java="bundled",
                             java_home="", dir="", home=f"opensearchproject/opensearch:{self.version}",
                             backend="docker")
        return self.info

    def stop(self, purge: bool = False) -> bool:
        """Stop and remove the container."""
        if self.container is None:
            return False
        self.container.stop()
        self.container = None
        self.info = None
        return True
