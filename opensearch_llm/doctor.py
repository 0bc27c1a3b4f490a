"""``doctor``: can this cluster, this machine and these blueprints work together?  Each answer is a :class:`Check`.

Cluster checks: reachable, version, ``opensearch-ml`` installed, remote inference enabled, a node that can
host remote models.  Per blueprint: it loads (environment included); the settings that would block it
(a check passes when ``up`` can make the change itself, and says what it will change); its upstream
answers from this machine (Ollama ``GET /api/version``, OpenAI-compatible ``GET /models``: any HTTP
status counts as reachable, a connection error or timeout fails; no credential is sent), and its preflight
(:mod:`opensearch_llm.preflight`, the blueprint's own auth header sent: a refused key or a model not offered
fails, a check that could not be made warns).  What needs no cluster (:mod:`opensearch_llm.upstream_checks`)
runs for every blueprint before the first cluster request; the table shows the cluster's rows first.

A cluster with ML Commons also gets its :class:`~opensearch_llm.features.Feature` list (which consumers of a
model it supports, from the ``GET _nodes`` answer and the settings): information, not a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, TYPE_CHECKING, Union

from opensearch_llm.errors import BlueprintError, MissingEnvError, OpenSearchLLMError, excerpt, short_cause
from opensearch_llm.features import Feature, cluster_features
from opensearch_llm.lifecycle.traffic import blueprint_rows as traffic_rows
from opensearch_llm.blueprint.endpoints import endpoint_urls
from opensearch_llm.resources import settings
from opensearch_llm.resources.security import Principal, whoami
from opensearch_llm.secrets import mask_text
from opensearch_llm.upstream_checks import (  # noqa: F401 - part of doctor's interface
    Check, is_ollama, preflight_check, upstream_base, upstream_check,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch
    from opensearch_llm.blueprint.model import Blueprint

MIN_VERSION = (2, 9)          # remote connectors are generally available from 2.9
PRIVATE_IP_SINCE = (2, 15)    # before 2.15 private and loopback endpoints are refused outright
REMOTE_INFERENCE = "plugins.ml_commons.remote_inference.enabled"
PRIVATE_ENDPOINTS = "plugins.ml_commons.trusted_connector_private_endpoints_regex"  # 3.7+
REMOTE_MODEL_ROLES = ("data", "ml")


@dataclass(frozen=True)
class Report:
    """What :func:`run` found: the checks in table order and the cluster's features (none when unreadable)."""

    checks: list[Check]
    features: list[Feature] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)  # ours: name, id, state, serving (planned vs serving nodes)

    @property
    def failed(self) -> int:
        """How many checks failed."""
        return sum(not c.ok for c in self.checks)

    def text(self) -> str:
        """The table a terminal shows."""
        return render(self.checks, self.features, self.models)

    def to_dict(self) -> dict:
        """JSON-ready view: ``ok``, ``checks`` and ``features``."""
        return {"ok": not self.failed, "checks": [c.to_dict() for c in self.checks],
                "features": [f.to_dict() for f in self.features], "models": self.models}


@dataclass(frozen=True)
class ClusterState:
    """What the per-blueprint settings check needs to know about the cluster."""

    version: tuple[int, int]
    settings: settings.SettingsFacts
    remote_inference: bool = True
    transient: Mapping[str, Any] = field(default_factory=dict)
    private_endpoints: tuple[str, ...] = ()
    caller: Optional[Principal] = None  # who we are, where the cluster has users
    features: tuple[Feature, ...] = ()


def parse_version(text: str) -> tuple[int, int]:
    """``(major, minor)`` of ``2.19.6`` or ``3.0.0-SNAPSHOT``; ``(0, 0)`` when unreadable."""
    m = re.match(r"(\d+)\.(\d+)", text or "")
    return (int(m[1]), int(m[2])) if m else (0, 0)


def _where(client: "OpenSearch") -> str:
    host = (getattr(client.transport, "hosts", None) or [{}])[0]
    scheme = host.get("scheme") or ("https" if host.get("use_ssl") else "http")
    return f"{scheme}://{host.get('host', '?')}:{host.get('port', '?')}{host.get('url_prefix', '')}"


def _put(key: str, value: Any, section: str = "persistent") -> str:
    val = "null" if value is None else ("true" if value is True else f'"{value}"' if isinstance(value, str) else value)
    return f'PUT _cluster/settings {{"{section}": {{"{key}": {val}}}}}'


def cluster_checks(client: "OpenSearch") -> tuple[list[Check], Optional[ClusterState]]:
    """Reachability, version, ML Commons and cluster-wide settings; the state is None when it cannot be read."""
    where = _where(client)
    try:
        info = client.info()
    except OpenSearchLLMError as exc:
        fix = ("pass --username/--password (or OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD)"
               if getattr(exc, "status", None) in (401, 403)
               else "check --url / OPENSEARCH_URL, or start a local node: opensearch-llm local start")
        return [Check("cluster reachable", False, mask_text(f"{where}: {short_cause(exc.message)}"), fix)], None
    number = str(info.get("version", {}).get("number", "?"))
    version = parse_version(number)
    checks = [Check("cluster reachable", True, f"{where} answered (cluster {info.get('cluster_name', '?')})")]
    if version < MIN_VERSION:
        checks.append(Check("OpenSearch version", False, f"OpenSearch {number}",
                            "upgrade to OpenSearch 2.19 or 3.x: remote connectors need 2.9 or newer"))
    else:
        checks.append(Check("OpenSearch version", True, f"OpenSearch {number} (verified: 2.19, 3.x)"))
    try:
        return _cluster_details(client, checks, version)
    except OpenSearchLLMError as exc:
        checks.append(Check("cluster details readable", False, mask_text(excerpt(str(exc), 300)),
                            "connect as a user allowed to read plugins, nodes and cluster settings"))
        return checks, None


def _cluster_details(client: "OpenSearch", checks: list[Check],
                     version: tuple[int, int]) -> tuple[list[Check], Optional[ClusterState]]:
    plugins = client.cat.plugins(format="json")
    ml = sorted({p.get("version", "?") for p in plugins if p.get("component") == "opensearch-ml"})
    checks.append(Check("opensearch-ml plugin", bool(ml), f"ML Commons {', '.join(ml)}" if ml else "not installed",
                        "" if ml else "install ML Commons (opensearch-ml), or use: opensearch-llm local start"))
    if not ml:
        return checks, None
    raw = client.cluster.get_settings(include_defaults=True, flat_settings=True)
    merged = {**raw.get("defaults", {}), **raw.get("persistent", {}), **raw.get("transient", {})}
    enabled = str(merged.get(REMOTE_INFERENCE, "true")).lower() == "true"
    checks.append(Check("remote inference", enabled, f"{REMOTE_INFERENCE} = {str(enabled).lower()}",
                        "" if enabled else _put(REMOTE_INFERENCE, True)))
    nodes = client.nodes.info().get("nodes", {})
    checks.append(_nodes_check(nodes))
    caller = whoami(client)
    if caller:
        checks.append(Check("caller", True, f"user {caller.user}, roles {', '.join(caller.roles) or 'none'}"))
    state = ClusterState(version=version, settings=settings.read(client), remote_inference=enabled,
                         transient=dict(raw.get("transient", {})),
                         private_endpoints=tuple(merged.get(PRIVATE_ENDPOINTS) or ()), caller=caller,
                         features=tuple(cluster_features(min(map(parse_version, ml)), merged, nodes)))
    return checks, state


def _nodes_check(nodes: Mapping[str, Any]) -> Check:
    eligible = [n.get("name", nid) for nid, n in nodes.items() if set(n.get("roles", ())) & set(REMOTE_MODEL_ROLES)]
    detail = f"{len(eligible)} of {len(nodes)} node(s) have the data or ml role"
    return Check("nodes for remote models", bool(eligible), detail,
                 "" if eligible else "add a node with the data or ml role (remote models deploy there)")


def settings_check(blueprint: "Blueprint", state: ClusterState) -> Check:
    """Would the cluster settings block ``blueprint``?  Passes, naming the change, when ``up`` can fix them."""
    urls = endpoint_urls(blueprint.connector.body)
    change = settings.plan_change(state.settings, urls)
    private = [u for u in urls if settings.is_private(u)]
    blockers: list[str] = []
    fixes: list[str] = []
    if not state.remote_inference:
        blockers.append("remote inference is disabled")
        fixes.append(_put(REMOTE_INFERENCE, True))
    if private and state.version < PRIVATE_IP_SINCE:
        blockers.append(f"OpenSearch before 2.15 refuses private endpoints ({private[0]})")
        fixes.append("upgrade to 2.19 or 3.x, or use a public endpoint")
    if change.add_regexes and settings.TRUSTED in state.transient:
        blockers.append("a transient trusted-endpoint list overrides the persistent one `up` writes")
        fixes.append(_put(settings.TRUSTED, None, "transient"))
    if change.enable_private_ip and settings.PRIVATE_IP in state.transient:
        blockers.append("a transient private_ip_enabled=false overrides the persistent value `up` writes")
        fixes.append(_put(settings.PRIVATE_IP, None, "transient"))
    unmatched = [u for u in private if not settings.is_trusted(u, state.private_endpoints)]
    if state.private_endpoints and unmatched:
        blockers.append(f"{PRIVATE_ENDPOINTS} does not match {unmatched[0]} (up does not manage it)")
        fixes.append(f"add {settings.endpoint_regex(unmatched[0])} to {PRIVATE_ENDPOINTS}")
    if change.changes and state.caller and state.caller.may_update_settings() is False:
        blockers.append(f"the settings change needs cluster:admin/settings/update, which the roles of "
                        f"{state.caller.user} do not grant")
        fixes.append(f"an admin runs: opensearch-llm settings {blueprint.source}")
    name = f"{blueprint.name}: settings"
    if blockers:
        return Check(name, False, "; ".join(blockers), "; ".join(fixes))
    if not change.changes:
        return Check(name, True, f"already allowed: {', '.join(urls)}")
    will = [f"add trusted endpoint {r}" for r in change.add_regexes]
    will += ["enable plugins.ml_commons.connector.private_ip_enabled"] if change.enable_private_ip else []
    return Check(name, True, "up will " + "; ".join(will) + " (down restores them)")


@dataclass
class _Offline:
    """One blueprint's checks that need no cluster: it loads, its upstream, its preflight (``blueprint`` None
    when it does not load)."""

    blueprint: Optional["Blueprint"]
    checks: list[Check]

    def with_settings(self, state: Optional[ClusterState]) -> list[Check]:
        """The rows in table order: blueprint, settings (when the cluster was readable), upstream, preflight."""
        if self.blueprint is None or state is None:
            return list(self.checks)
        return self.checks[:1] + [settings_check(self.blueprint, state)] + self.checks[1:]


def _offline_checks(path: Union[str, Path], *, env: Optional[Mapping[str, str]], env_file: Optional[str],
                    overrides: Sequence[str], timeout: float, preflight: bool, trust_env_file: bool = False) -> _Offline:
    from opensearch_llm.blueprint import load_blueprint
    from opensearch_llm.blueprint.env_sources import TRUST_FLAG

    try:
        bp = load_blueprint(path, env=env, env_file=env_file, overrides=overrides, trust_env_file=trust_env_file)
    except BlueprintError as exc:
        problems = "; ".join(str(p) for p in exc.problems[:3])
        fix = ("set the variables (see .env.example) or put them in .env / --env-file"
               if isinstance(exc, MissingEnvError) else f"run: opensearch-llm validate {path}")
        if any(TRUST_FLAG in p.message for p in exc.problems):
            fix = f"set the key and where it is sent in one place, or pass {TRUST_FLAG} if the env file is yours"
        return _Offline(None, [Check(f"{path}: blueprint", False, mask_text(excerpt(problems, 300)), fix)])
    checks = [Check(f"{bp.name}: blueprint", True, f"{bp.source} loads and validates"), upstream_check(bp, timeout)]
    if preflight:
        checks.append(preflight_check(bp, timeout))
    return _Offline(bp, checks)


def blueprint_checks(path: Union[str, Path], state: Optional[ClusterState], *,
                     env: Optional[Mapping[str, str]] = None, env_file: Optional[str] = None,
                     overrides: Sequence[str] = (), timeout: float = 3.0, preflight: bool = True) -> list[Check]:
    """Load one blueprint, then check the settings (when the cluster was readable), its upstream and preflight."""
    return _offline_checks(path, env=env, env_file=env_file, overrides=overrides, timeout=timeout,
                           preflight=preflight).with_settings(state)


def run(client: "OpenSearch", blueprints: Sequence[Union[str, Path]] = (), *, env: Optional[Mapping[str, str]] = None,
        env_file: Optional[str] = None, overrides: Sequence[str] = (), timeout: float = 3.0,
        preflight: bool = True, trust_env_file: bool = False) -> Report:
    """Every check, shown the cluster's first, then each blueprint's (upstreams are checked even when the
    cluster is not), and the cluster's features.  Every blueprint is loaded and its upstream and preflight
    asked before the first cluster request; its settings row comes from the cluster's state afterwards."""
    offline = [_offline_checks(path, env=env, env_file=env_file, overrides=overrides, timeout=timeout,
                               preflight=preflight, trust_env_file=trust_env_file) for path in blueprints]
    checks, state = cluster_checks(client)
    for found in offline:
        checks += found.with_settings(state)
    if state:
        loaded = [f.blueprint for f in offline if f.blueprint is not None]
        checks += [problems_check(client, loaded), *(Check(**row) for row in traffic_rows(client, loaded))]
    return Report(checks, list(state.features) if state else [], _models(client) if state else [])


def problems_check(client: "OpenSearch", blueprints: Sequence["Blueprint"]) -> Check:
    """Ghost deployments, settings entries of ours nothing explains, and the blueprints' drift (lifecycle.findings)."""
    from opensearch_llm.lifecycle.findings import collect
    from opensearch_llm.lifecycle.journal import journal_dirs

    name = "ghosts, drift, stray settings"
    try:
        found = collect(client, blueprints, journal_dirs())
    except OpenSearchLLMError as exc:
        return Check(name, False, mask_text(excerpt(str(exc), 300)), "see docs/permissions.md")
    if not found:
        return Check(name, True, "none" + (f" (drift checked: {', '.join(bp.name for bp in blueprints)})"
                                           if blueprints else ""))
    # a warning, not a failure: none of them keeps `up` from working (it repairs drift itself); status exits 1
    return Check(name, True, mask_text("; ".join(f"{f['problem']} {f['id']}: {f['detail']} (fix: {f['fix']})"
                                                 for f in found)), "; ".join(dict.fromkeys(f["fix"] for f in found)),
                 warn=True)


def _models(client: "OpenSearch") -> list[dict]:
    from opensearch_llm.lifecycle.placement import models_serving

    try:
        return models_serving(client)
    except OpenSearchLLMError:  # cannot list them (permissions): the checks above say what is wrong
        return []


def render(checks: Sequence[Check], features: Sequence[Feature] = (), models: Sequence[dict] = ()) -> str:
    """A pass/fail table, each failure followed by its fix; then the features (yes/no), our models and where
    they serve, then the counts."""
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"{('WARN' if c.warn else 'PASS') if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"{'':4}  {'':<{width}}  fix: {c.fix}")
    if features:
        lines.append("cluster features:")
        named = max(len(f.name) for f in features)
        lines += [f"  {'yes' if f.supported else 'no':<3}  {f.name:<{named}}  {f.detail}" for f in features]
    if models:
        lines.append("models of ours (serving/planned nodes):")
        lines += [f"  {m['name']} [{m['id']}] {m['state']} {m['serving']}".rstrip() for m in models]
    failed = sum(not c.ok for c in checks)
    warned = sum(c.ok and c.warn for c in checks)
    lines.append(f"{len(checks) - failed} passed, {failed} failed" + (f", {warned} warning(s)" if warned else ""))
    return "\n".join(lines)
