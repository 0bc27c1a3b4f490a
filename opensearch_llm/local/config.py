"""Per-instance configuration: opensearch.yml, jvm.options with absolute paths, environment."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# Settings every local node gets. Trusted endpoints and private IPs are deliberately left at
# ML Commons' defaults: setting exactly what a blueprint needs is the toolkit's job, and
# tests must prove it does.
ML_SETTINGS = {
    "plugins.ml_commons.only_run_on_ml_node": "false",
    "plugins.ml_commons.jvm_heap_memory_threshold": "100",
    "plugins.ml_commons.native_memory_threshold": "100",
    "plugins.ml_commons.disk_free_space_threshold": "0",
}


def opensearch_yml(name: str, instance: Path, port: int) -> str:
    """The opensearch.yml of a single-node loopback instance."""
    lines = {
        "cluster.name": f"opensearch-llm-{name}",
        "node.name": f"{name}-node",
        "discovery.type": "single-node",
        "network.host": "127.0.0.1",
        "http.port": str(port),
        "transport.port": "0",
        "node.portsfile": "true",
        "path.data": str(instance / "data"),
        "path.logs": str(instance / "logs"),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "indices.breaker.total.use_real_memory": "false",
        "discovery.initial_state_timeout": "0s",
        "action.auto_create_index": "true",
        **ML_SETTINGS,
    }
    return "".join(f"{k}: {v}\n" for k, v in lines.items())


def write_config(home: Path, instance: Path, name: str, port: int) -> Path:
    """Create ``instance``/config from the distribution's config with our settings; return it."""
    conf = instance / "config"
    if conf.exists():
        shutil.rmtree(conf)
    shutil.copytree(home / "config", conf)
    for sub in ("data", "logs", "tmp"):
        (instance / sub).mkdir(parents=True, exist_ok=True)
    (conf / "opensearch.yml").write_text(opensearch_yml(name, instance, port))
    jvm = conf / "jvm.options"
    text = jvm.read_text()
    # the shipped jvm.options writes gc logs, heap dumps and error files relative to
    # OPENSEARCH_HOME, which the unprivileged user may not write to
    text = re.sub(r"(?<=[=:])logs/", f"{instance}/logs/", text)
    text = text.replace("HeapDumpPath=data", f"HeapDumpPath={instance}/data")
    jvm.write_text(text)
    return conf


def node_env(java_home: str, conf: Path, instance: Path, heap: str, path: str) -> dict[str, str]:
    """The environment bin/opensearch runs with (nothing inherited that could change it)."""
    return {
        "PATH": path,
        "HOME": str(instance),
        "OPENSEARCH_JAVA_HOME": java_home,
        "OPENSEARCH_PATH_CONF": str(conf),
        "OPENSEARCH_TMPDIR": str(instance / "tmp"),
        "OPENSEARCH_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "LANG": "C.UTF-8",
    }
