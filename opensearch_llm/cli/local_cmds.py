"""``opensearch-llm local``: a real OpenSearch + ML Commons node, or a multi-node cluster, on loopback."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import click

from opensearch_llm.cli.output import emit_json, json_option, progress

name_option = click.option("--name", default="default", show_default=True, help="Instance name.")
node_argument = click.argument("node", metavar="NODE")


@click.group(help="""Run a real OpenSearch with ML Commons on 127.0.0.1 (no Docker): one node, or a cluster
of N nodes (--nodes), each its own process.

\b
Example:
  opensearch-llm local start --version 2.19
  opensearch-llm local start --nodes 3 --name mn
  opensearch-llm local stop --purge
""")
def local() -> None:
    """Local node commands."""


def _launcher(version: Optional[str], nodes: Optional[int], roles: Sequence[str], **common: Any) -> Any:
    """A LocalNode, or a LocalCluster for --nodes > 1, --roles, or an instance that holds a cluster."""
    from opensearch_llm.local import LocalCluster, LocalNode
    from opensearch_llm.local.cluster import DEFAULT_HEAP, recorded_roles

    layout = recorded_roles(common["name"]) if nodes is None and not roles else None
    if (nodes or 1) == 1 and not roles and not layout:
        return LocalNode(version, heap=common.pop("heap") or "1g",
                         ready_timeout=common.pop("ready_timeout") or 180.0, **common)
    if common.pop("secure"):
        raise click.UsageError("--secure starts a single node: it cannot be combined with --nodes or --roles")
    return LocalCluster(version, nodes=nodes, roles=list(roles) or layout, heap=common.pop("heap") or DEFAULT_HEAP,
                        **common)


@local.command(help="""Start the node, or the cluster (idempotent), and print its URL.

--nodes N starts an N-node cluster (zen discovery on loopback, no single-node mode): node-1 is
cluster_manager,data,ingest and its HTTP address is the cluster URL; node-2..node-N have the ml
role. Each node is its own process with its own config, data and logs under the instance dir,
its own HTTP and transport port, and --heap of heap (default 512m per node in a cluster, 1g for
one node). --roles sets one node's roles, in node order, once per node: a comma-separated list
of cluster_manager, data, ingest, ml, remote_cluster_client, or coordinating alone (no roles). At
least one node needs cluster_manager and one data. It waits until every node has joined and loaded
ML Commons. --json adds a "nodes" list (name, roles, url, ports, pid, dir).

--secure (a single node only): OpenSearch 2.19.1 with the security plugin, TLS on HTTP and transport
with a CA made for this instance, user admin (all_access) and ml-user (ml_full_access only). Their
random passwords are in 0600 files in the instance directory (--json: password_file, ml_password_file,
ca_certs) and are never printed.

\b
Example:
  opensearch-llm local start
  opensearch-llm local start --version 3 --port 9201 --json
  opensearch-llm local start --nodes 3 --name mn --json
  opensearch-llm local start --name mn2 --roles cluster_manager,data --roles data,ml --roles ml
  opensearch-llm local start --secure --name secured --json
""")
@click.option("--version", "version", default=None,
              help="2.19 (default), 3, or an exact version (with --secure: 2.19.1).")
@click.option("--nodes", type=click.IntRange(min=1), default=None,
              help="Number of nodes (default 1; an instance that holds a cluster restarts as that cluster).")
@click.option("--roles", multiple=True, metavar="ROLE[,ROLE...]",
              help="One node's roles; repeat once per node, in node order (default: node-1 "
                   "cluster_manager,data,ingest, others ml).")
@click.option("--port", type=int, default=None, help="HTTP port of the node (of node-1 in a cluster; default: free).")
@click.option("--heap", default=None, help="JVM heap of each node [default: 1g; 512m per node in a cluster].")
@click.option("--backend", type=click.Choice(["local", "docker"]), default="local", show_default=True)
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait for readiness [default: 180; in a cluster 60 more per extra node].")
@click.option("--secure", is_flag=True, help="With the security plugin: TLS, users admin and ml-user.")
@name_option
@json_option
def start(version: Optional[str], nodes: Optional[int], roles: Sequence[str], port: Optional[int],
          heap: Optional[str], backend: str, timeout: Optional[float], secure: bool, name: str, as_json: bool) -> None:
    """Start a local node or cluster."""
    if backend == "docker":
        if secure or (nodes or 1) > 1 or roles:
            raise click.UsageError("--secure, --nodes and --roles work with the local backend only")
        from opensearch_llm.local.docker import DockerNode as Node
        node = Node(version, port=port, name=name, heap=heap or "1g", ready_timeout=timeout or 180.0,
                    progress=progress)
    else:
        node = _launcher(version, nodes, roles, port=port, name=name, heap=heap, ready_timeout=timeout,
                         progress=progress, secure=secure)
    info = node.start()
    if as_json:
        emit_json(info.to_dict())
        return
    extra = " and the security plugin" if info.secure else ""
    size = f"{len(info.nodes)} nodes, " if info.nodes else ""
    progress(f"OpenSearch {info.version} with ML Commons{extra} is ready ({size}Java {info.java}, pid {info.pid})")
    if info.secure:
        progress(f"user {info.username}, password in {info.password_file}, CA certificate {info.ca_certs}; "
                 f"user {info.ml_user} (ml_full_access), password in {info.ml_password_file}")
    for node_info in info.nodes or []:
        progress(f"  {node_info['name']}: {','.join(node_info['roles']) or 'coordinating'} at {node_info['url']}")
    click.echo(info.url)


@local.command(help="""Stop the node, or every node of the cluster; no process of the instance is left.

\b
Example:
  opensearch-llm local stop --purge
  opensearch-llm local stop --name mn --purge
""")
@click.option("--purge", is_flag=True, help="Also delete the instance's data and logs.")
@name_option
def stop(purge: bool, name: str) -> None:
    """Stop a local node or cluster."""
    from opensearch_llm.local import LocalNode

    was_running = LocalNode(name=name).stop(purge=purge)
    progress(f"local node {name!r} " + ("stopped" if was_running else "was not running"))


@local.command(help="""Show whether the node or cluster runs, and where; for a cluster, every node with its
roles, pid, ports, whether its process runs and whether the cluster lists it. Exit 1 when the
instance's URL does not answer.

\b
Example:
  opensearch-llm local status --json
  opensearch-llm local status --name mn
""")
@name_option
@json_option
def status(name: str, as_json: bool) -> None:
    """Report a local node's or cluster's state; exit 1 when it is not running."""
    from opensearch_llm.local import LocalCluster, LocalNode, read_state

    recorded = read_state(name)
    if recorded and recorded.nodes:
        state = LocalCluster(name=name).status()
        if as_json:
            emit_json(state)
        else:
            _render_cluster_status(state)
        raise SystemExit(0 if state["running"] else 1)
    info = LocalNode(name=name).running()
    if as_json:
        emit_json({"running": bool(info), **(info.to_dict() if info else {"name": name})})
    elif info:
        secured = f", secured: user {info.username}, CA {info.ca_certs}" if info.secure else ""
        click.echo(f"{info.name}: running OpenSearch {info.version} at {info.url} (pid {info.pid}, Java {info.java}"
                   f"{secured})")
    else:
        click.echo(f"{name}: not running")
    if not info:
        raise SystemExit(1)


def _render_cluster_status(state: dict) -> None:
    up = sum(1 for n in state["nodes"] if n["running"])
    click.echo(f"{state['name']}: {'running' if state['running'] else 'not answering'} OpenSearch {state['version']} "
               f"at {state['url']} ({up}/{len(state['nodes'])} nodes running, Java {state['java']})")
    for n in state["nodes"]:
        where = "in the cluster" if n["in_cluster"] else "not in the cluster"
        click.echo(f"  {n['name']:<8} {','.join(n['roles']) or 'coordinating':<30} pid {n['pid']:<8} "
                   f"http {n['http_port']} transport {n['transport_port']} "
                   f"{'running' if n['running'] else 'not running'}, {where}")


@local.command(name="kill-node", help="""Kill one node of a local cluster with SIGKILL (a crash, for fault tests).

Its data and config stay; local start-node brings it back.

\b
Example:
  opensearch-llm local kill-node node-2 --name mn
""")
@node_argument
@name_option
def kill_node(node: str, name: str) -> None:
    """SIGKILL one node of a local cluster."""
    from opensearch_llm.local import LocalCluster

    killed = LocalCluster(name=name).kill_node(node)
    progress(f"{node} of local cluster {name!r} " + ("killed" if killed else "was not running"))


@local.command(name="start-node", help="""Start one node of a local cluster again, with its own data dir and config
and the same ports, and wait until it has rejoined the cluster (idempotent).

\b
Example:
  opensearch-llm local start-node node-2 --name mn
""")
@node_argument
@click.option("--timeout", type=float, default=None, help="Seconds to wait for it to rejoin [default: 180].")
@name_option
@json_option
def start_node(node: str, timeout: Optional[float], name: str, as_json: bool) -> None:
    """Start one node of a local cluster and wait for it to rejoin."""
    from opensearch_llm.local import LocalCluster

    started = LocalCluster(name=name, progress=progress).start_node(node, timeout=timeout)
    if as_json:
        emit_json(started.to_dict())
    else:
        progress(f"{started.name} ({','.join(started.roles) or 'coordinating'}) has joined local cluster {name!r}")
        click.echo(started.url)


@local.command(help="""Print the last log lines of the node (of node-1 in a cluster, or of --node).

\b
Example:
  opensearch-llm local logs -n 100
  opensearch-llm local logs --name mn --node node-2
""")
@click.option("-n", "--lines", type=int, default=50, show_default=True)
@click.option("--node", default=None, help="The node of a cluster (default node-1).")
@name_option
def logs(lines: int, node: Optional[str], name: str) -> None:
    """Print a local node's log tail."""
    from opensearch_llm.local import LocalCluster, LocalNode, read_state

    recorded = read_state(name)
    if node or (recorded and recorded.nodes):
        click.echo(LocalCluster(name=name).log_tail(node, lines))
    else:
        click.echo(LocalNode(name=name).log_tail(lines))
