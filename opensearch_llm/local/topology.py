"""The shape of a local multi-node cluster: node roles (validated), names, ports and per-node settings."""

from __future__ import annotations

import random
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from opensearch_llm.errors import InvalidInputError, LocalNodeError
from opensearch_llm.local import config

# the node roles a local node may have (the ML Commons plugin adds `ml`); `coordinating` alone means none
KNOWN_ROLES = ("cluster_manager", "data", "ingest", "ml", "remote_cluster_client")
COORDINATING = "coordinating"
FIRST_NODE_ROLES = ("cluster_manager", "data", "ingest")
OTHER_NODE_ROLES = ("ml",)
# ports the launcher picks for cluster nodes: below Linux' ephemeral range, so no bind(0) or outgoing
# connection of another process takes one between the pick and the node's own bind
PORT_RANGE = (20000, 32000)
RolesArg = Sequence[Union[str, Sequence[str]]]


@dataclass(frozen=True)
class ClusterNode:
    """One node of a local cluster, as recorded in the instance's state (``NodeInfo.nodes``)."""

    name: str
    roles: list[str]
    http_port: int
    transport_port: int
    dir: str
    heap: str
    pid: Optional[int] = None
    url: str = field(default="")

    def __post_init__(self) -> None:
        if not self.url:
            object.__setattr__(self, "url", f"http://127.0.0.1:{self.http_port}")

    @property
    def manager_eligible(self) -> bool:
        """True when the node may be elected cluster manager."""
        return "cluster_manager" in self.roles

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClusterNode":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def default_roles(nodes: int) -> list[tuple[str, ...]]:
    """Node 1 cluster_manager+data+ingest, every other node ``ml``."""
    return [FIRST_NODE_ROLES] + [OTHER_NODE_ROLES] * (nodes - 1)


def parse_roles(roles: Optional[RolesArg], nodes: Optional[int]) -> list[tuple[str, ...]]:
    """The role list of every node, from one entry per node (``"cluster_manager,data"`` or a sequence).

    No ``roles`` gives :func:`default_roles`. Raises :class:`InvalidInputError` (exit 2) naming the
    problem: a count that differs from ``nodes``, an unknown role, no cluster_manager-eligible node,
    no data node (ML Commons keeps its system indices on data nodes).
    """
    if nodes is not None and nodes < 1:
        raise InvalidInputError(f"--nodes must be at least 1, not {nodes}")
    if not roles:
        return default_roles(nodes or 1)
    if nodes is not None and len(roles) != nodes:
        raise InvalidInputError(f"--roles was given {len(roles)} time(s) for {nodes} node(s)",
                                hint="give --roles once per node, in node order, or not at all for the defaults")
    parsed = [_one_node(i, spec) for i, spec in enumerate(roles, 1)]
    if not any("cluster_manager" in r for r in parsed):
        raise InvalidInputError("no node has the cluster_manager role",
                                hint="at least one node must be cluster-manager-eligible, e.g. --roles cluster_manager,data")
    if not any("data" in r for r in parsed):
        raise InvalidInputError("no node has the data role",
                                hint="ML Commons keeps its system indices on data nodes: give one node the data role")
    return parsed


def _one_node(index: int, spec: Union[str, Sequence[str]]) -> tuple[str, ...]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [r.strip().lower() for r in items if r.strip()]
    if names == [COORDINATING]:
        return ()
    if not names or COORDINATING in names:
        raise InvalidInputError(f"node {index}: {','.join(names) or 'no roles'}: give roles, or {COORDINATING} alone "
                                f"for a coordinating-only node")
    for role in names:
        if role == "master":
            raise InvalidInputError(f"node {index}: role 'master' is the deprecated name", hint="use cluster_manager")
        if role not in KNOWN_ROLES:
            raise InvalidInputError(f"node {index}: unknown role {role!r}",
                                    hint=f"known roles: {', '.join(KNOWN_ROLES)}, or {COORDINATING} alone")
    return tuple(dict.fromkeys(names))  # without duplicates, in the order given


def node_name(index: int) -> str:
    """The name of the ``index``-th node (1-based) of a cluster: ``node-1``, ``node-2``, ..."""
    return f"node-{index}"


def plan_nodes(instance: Path, roles: Sequence[Sequence[str]], heap: str, port: Optional[int] = None,
               rng: Optional[random.Random] = None) -> list[ClusterNode]:
    """One :class:`ClusterNode` per entry of ``roles``, each with its dir and two free ports.

    :param port: the first node's HTTP port (the cluster URL); None picks a free one like the others.
    """
    ports = pick_ports(2 * len(roles), exclude={port} if port else set(), rng=rng)
    nodes = []
    for i, node_roles in enumerate(roles, 1):
        http = port if (i == 1 and port) else ports.pop()
        nodes.append(ClusterNode(name=node_name(i), roles=list(node_roles), http_port=http,
                                 transport_port=ports.pop(), dir=str(instance / "nodes" / node_name(i)), heap=heap))
    return nodes


def pick_ports(count: int, *, exclude: set = frozenset(), rng: Optional[random.Random] = None,
               host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports in :data:`PORT_RANGE` that can be bound on ``host`` now."""
    rng = rng or random.SystemRandom()
    picked: list[int] = []
    for _ in range(count * 50):
        if len(picked) == count:
            break
        candidate = rng.randrange(*PORT_RANGE)
        if candidate not in picked and candidate not in exclude and _bindable(host, candidate):
            picked.append(candidate)
    if len(picked) < count:
        raise LocalNodeError(f"could not find {count} free ports in {PORT_RANGE[0]}-{PORT_RANGE[1]} on {host}")
    return picked


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def node_settings(instance_name: str, nodes: Sequence[ClusterNode], node: ClusterNode) -> dict[str, str]:
    """The opensearch.yml settings of ``node``: seeds and the initial election are the manager-eligible nodes."""
    managers = [n for n in nodes if n.manager_eligible]
    return config.cluster_node_settings(
        instance_name, node.name, Path(node.dir), node.http_port, node.transport_port, roles=node.roles,
        seed_hosts=[f"127.0.0.1:{n.transport_port}" for n in managers],
        initial_managers=[n.name for n in managers],
    )
