"""Plans are pure data: what ``up`` would do, computed from a blueprint and the cluster's facts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence, TYPE_CHECKING

from opensearch_llm.blueprint.endpoints import endpoint_urls
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.actions import (  # noqa: F401 - the op names are part of this module's interface
    CREATE, DEPLOY, NOOP, PROBE, REPLACE, SWITCH, UPDATABLE, UPDATE, Action,
)
from opensearch_llm.lifecycle.consumer_plan import consumer_actions, flags_detail
from opensearch_llm.lifecycle import lease as lease_mod
from opensearch_llm.lifecycle.retries import retry_note
from opensearch_llm.lifecycle.drift import OUTSIDE, connector_drift, fixable_in_place, model_drift
from opensearch_llm.lifecycle.facts import Facts, Node
from opensearch_llm.lifecycle.ledger import SettingsRecord, record_for, record_of
from opensearch_llm.lifecycle.placement import flags_for, heal_reason, planned_nodes, serving_text
from opensearch_llm.lifecycle.naming import SETTINGS, Names, fingerprint, owner_token
from opensearch_llm.resources import settings
from opensearch_llm.secrets import masked

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

@dataclass(frozen=True)
class Plan:
    """Ordered actions for one blueprint; ``settings_change`` is what the settings step writes."""

    blueprint: str
    run_id: str
    mode: str
    cluster_version: str
    names: Names
    actions: tuple[Action, ...]
    settings_change: settings.SettingsChange
    connector_hash: str
    model_hash: str
    cluster_uuid: str = ""  # where the plan changes settings (the journal records it)
    owner: Optional[str] = None  # the caller's user name (marker token), where the cluster has users
    node_names: dict = field(default_factory=dict)  # node id → name, for reporting where the model serves
    settings_record: SettingsRecord = SettingsRecord()  # goes into the model group's marker (lifecycle.ledger)
    busy: dict = field(default_factory=dict)  # another run live on this blueprint: run, by, since, until
    lease: dict = field(default_factory=dict)  # the lease and host tokens of this run's markers (lifecycle.lease)
    variables: dict = field(default_factory=dict)  # ${env:...} variable → where its value came from
    retries: str = ""  # what the cluster's ML Commons does with the connector's retry settings (lifecycle.retries)

    @property
    def replaces(self) -> bool:
        """True when a live model or agent would be replaced (a new id: whoever uses the old one breaks)."""
        return any(a.step in ("model", "agent") and a.op == REPLACE for a in self.actions)

    @property
    def blocked(self) -> list[str]:
        """Steps the caller may not perform (read from their roles), each with why."""
        return [str(a.detail["permission"]) for a in self.actions if "do not grant" in str(a.detail.get("permission"))]

    @property
    def changes(self) -> bool:
        """True when executing the plan changes the cluster."""
        return any(a.op not in (NOOP, PROBE) for a in self.actions)

    def action(self, step: str) -> Action:
        """The action of ``step``."""
        return next(a for a in self.actions if a.step == step)

    def to_dict(self) -> dict:
        """JSON-ready view (secrets are never part of a plan)."""
        data = asdict(self)
        data["changes"] = self.changes
        return masked(data)


NEEDS_ADMIN = "needs cluster:admin/settings/update"


def _settings_action(change: settings.SettingsChange, facts: Facts, source: str) -> Action:
    if not change.changes:
        return Action("settings", NOOP, "ml_commons", "trusted endpoints and private-IP access already allow this connector")
    detail = {"add_trusted_endpoints_regex": list(change.add_regexes),
              "private_ip_enabled": "false -> true" if change.enable_private_ip else "unchanged",
              **flags_detail(change.enable_flags)}
    reason = "this connector's endpoint is not allowed yet" if change.add_regexes or change.enable_private_ip \
        else "a feature its consumers need is off"
    may = facts.caller.may_update_settings() if facts.caller else True
    if may is False:
        detail["permission"] = (f"{NEEDS_ADMIN}, which the roles of {facts.caller.user} "  # type: ignore[union-attr]
                                f"({', '.join(facts.caller.roles) or 'none'}) do not grant: an admin runs "  # type: ignore
                                f"opensearch-llm settings {source}, then this user's up needs no settings change")
        reason += f" ({NEEDS_ADMIN}: an admin must apply it)"
    elif may is None:
        detail["permission"] = f"{NEEDS_ADMIN}; custom roles may or may not grant it"
    return Action("settings", UPDATE, "ml_commons", reason, detail=detail)


def build(blueprint: "Blueprint", facts: Facts, names: Names, run_id: str, mode: str = "up", smoke: bool = True) -> Plan:
    """Pure: the plan for ``blueprint`` against ``facts``."""
    _check_owner(facts, names)
    if facts.foreign_group_id:
        raise InvalidInputError(
            f"a model group named {names.model_group!r} exists (id {facts.foreign_group_id}) but was not "
            "created by opensearch-llm; it is left alone",
            hint="choose another name: --set model_group.name=NAME")
    _check_access(blueprint, facts)
    body = blueprint.connector.body
    nodes = planned_nodes(blueprint, facts)
    change = settings.plan_change(facts.settings, endpoint_urls(body), blueprint.consumers.flags + flags_for(nodes))
    c_hash = fingerprint(body)
    m_hash = model_fingerprint(blueprint)
    # an admin's standing settings (kind settings) are theirs to restore: a run never takes their entries over
    live = [record_of(g.marker) for g in facts.groups if g.marker.kind != SETTINGS]
    record = record_for(facts.settings, change, endpoint_urls(body), blueprint.consumers.flags + flags_for(nodes), live)
    actions = [_settings_action(change, facts, blueprint.source)]
    group = facts.model_group
    actions.append(Action("model_group", NOOP, names.model_group, "exists and is ours", group.id) if group
                   else Action("model_group", CREATE, names.model_group, "not found"))
    model_action = _model_action(facts, names, m_hash, group, nodes, {n.id: n.name for n in facts.nodes},
                                 blueprint.model.extra)
    actions.append(_connector_action(facts, names, c_hash, body, model_action))
    actions.append(model_action)
    actions += consumer_actions(blueprint, facts, names, model_action)
    if smoke:
        actions.append(Action("smoke", PROBE, blueprint.name, "send the smoke probe and check its expectations"))
    return Plan(blueprint.name, run_id, mode, facts.version, names, tuple(actions), change, c_hash, m_hash,
                "", owner_token(facts.caller.user) if facts.caller else None,
                {n.id: n.name for n in facts.nodes}, record, _busy(facts, run_id, actions),
                variables=dict(blueprint.env_sources),
                retries=retry_note(body.get("client_config") or {}, facts.version))


def _busy(facts: Facts, run_id: str, actions: list[Action]) -> dict:
    """Another run that holds its lease on this blueprint's group and has not finished (no deployed model yet):
    an ``up`` now would create a second connector and model next to its own."""
    group = facts.model_group
    if group is None or group.marker.run == run_id or not lease_mod.is_live(group.marker):
        return {}
    unfinished = any(a.step in ("connector", "model") and a.op in (CREATE, SWITCH, DEPLOY) for a in actions)
    if not unfinished:
        return {}
    end = lease_mod.until(group.marker)
    return {"run": group.marker.run, "by": lease_mod.who(group.marker), "since": group.marker.created,
            "until": end.strftime(lease_mod.FORMAT) if end else ""}


def _check_owner(facts: Facts, names: Names) -> None:
    """Resources of this name that another user created are theirs: never reused, replaced or deleted."""
    me = owner_token(facts.caller.user) if facts.caller else None
    for found in (facts.model_group, facts.connector, facts.model, *facts.consumers.values()):
        if found is not None and me and found.marker.owner != me:
            raise InvalidInputError(
                f"{found.kind} {found.name!r} (id {found.id}) belongs to user {found.marker.owner or 'unknown'}, "
                f"not to {me}; it is left alone", hint="choose other names: --set model_group.name=NAME "
                "--set connector.name=NAME --set model.name=NAME")


def _check_access(blueprint: "Blueprint", facts: Facts) -> None:
    """Model access control fields need the security plugin and ``model_access_control_enabled``."""
    if not blueprint.model_group.access or (facts.security and facts.settings.access_control):
        return
    missing = "the security plugin" if not facts.security else f"{settings.ACCESS_CONTROL}: true"
    raise InvalidInputError(
        f"{blueprint.source}: model_group sets {', '.join(sorted(blueprint.model_group.access))}, but this "
        f"cluster has model access control off ({missing} is missing); ML Commons would refuse the model group",
        hint="drop model_group.access_mode/backend_roles/add_all_backend_roles, or ask an admin to enable "
             "model access control")


def model_fingerprint(blueprint: "Blueprint") -> str:
    """The digest of the model fields Update Model can change in place."""
    model = blueprint.to_dict()["model"]
    return fingerprint({k: v for k, v in model.items() if k in (*UPDATABLE, "name")})


def _connector_action(facts: Facts, names: Names, c_hash: str, body: dict, model_action: Action) -> Action:
    shown = {"body": masked(body)}
    conn = facts.connector
    if conn is None and model_action.op in (NOOP, UPDATE, DEPLOY):
        return Action("connector", SWITCH, names.connector, "the model's connector is gone: a new one, same model_id",
                      detail={**shown, "model": model_action.resource_id})
    if conn is None:
        return Action("connector", CREATE, names.connector, "not found", detail=shown)
    drift = [d.text() for d in connector_drift(body, conn.doc)] if conn.marker.hash == c_hash else []
    if conn.marker.hash == c_hash and not drift:
        return Action("connector", NOOP, names.connector, "exists with the same configuration", conn.id)
    if drift and model_action.op in (NOOP, UPDATE, DEPLOY):
        return Action("connector", SWITCH, names.connector, f"{OUTSIDE}: a new connector as the blueprint says, then "
                      "the live model switches to it (same model_id, no downtime)", conn.id,
                      detail={"drift": drift, **shown, "model": model_action.resource_id})
    if model_action.op in (NOOP, UPDATE, DEPLOY):
        return Action("connector", SWITCH, names.connector, "endpoint or request template changed: a new connector, "
                      "then the live model switches to it (same model_id, no downtime)", conn.id,
                      detail={**shown, "model": model_action.resource_id})
    return Action("connector", REPLACE, names.connector, "endpoint or request template changed", conn.id,
                  detail=shown)


def _model_action(facts: Facts, names: Names, m_hash: str, group: Any, nodes: Sequence[Node] = (),
                  node_names: Optional[dict] = None, extra: Optional[dict] = None) -> Action:
    placement = {"nodes": [n.name for n in nodes], "node_ids": [n.id for n in nodes]} if nodes else {}
    found = facts.model
    if found is None:
        return Action("model", CREATE, names.model, "not found; register with deploy=true" if not nodes else
                      f"not found; register, then deploy to {len(nodes)} node(s)", detail=placement)
    if group is None or found.doc.get("model_group_id") != group.id:
        return Action("model", REPLACE, names.model, "its model group changed, which ML Commons cannot change in "
                      "place: a new model_id (needs --replace)", found.id, detail={"consumers": [], **placement})
    if found.marker.hash != m_hash:
        return Action("model", UPDATE, names.model, "model fields changed: Update Model in place (same model_id)",
                      found.id, detail={"marker": found.marker.text(), **placement})
    drift = model_drift(extra or {}, found.doc)
    if drift and not fixable_in_place(drift):
        return Action("model", REPLACE, names.model, f"{OUTSIDE}: ML Commons cannot remove a rate limiter in place; "
                      "set model.rate_limiter in the blueprint to keep it, or accept a new model_id (--replace)",
                      found.id, detail={"drift": [d.text() for d in drift], "consumers": [], **placement})
    if drift:
        return Action("model", UPDATE, names.model, f"{OUTSIDE}: Update Model back to the blueprint (same model_id)",
                      found.id, detail={"drift": [d.text() for d in drift], "marker": found.marker.text(),
                                        **placement})
    heal = heal_reason(found.doc)
    if heal:
        return Action("model", DEPLOY, names.model, heal, found.id, detail=placement)
    serving = serving_text(found.doc, node_names or {})
    return Action("model", NOOP, names.model, "exists and is DEPLOYED", found.id,
                  detail={"serving": serving} if serving else {})


def render(plan: Plan) -> str:
    """Human-readable plan text."""
    symbols = {CREATE: "+", NOOP: "=", REPLACE: "!", UPDATE: "~", SWITCH: "~", DEPLOY: ">", PROBE: "?"}
    lines = [f"plan for {plan.blueprint} (run {plan.run_id}, OpenSearch {plan.cluster_version}):"]
    for a in plan.actions:
        rid = f" [{a.resource_id}]" if a.resource_id else ""
        lines.append(f"  {symbols.get(a.op, ' ')} {a.step:<15} {a.op:<8} {a.name}{rid}: {a.reason}")
        for key, value in a.detail.items():
            text = json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
            lines.append(f"      {key}: {text}")
    if plan.busy:
        lines.append(f"  another run ({plan.busy['run']}, by {plan.busy['by']}, since {plan.busy['since']}) is "
                     "provisioning this blueprint: up waits for it to finish")
    if plan.variables:
        lines.append("  variables: " + ", ".join(f"{k} from {v}" for k, v in sorted(plan.variables.items())))
    if plan.retries:
        lines.append(f"  retries: {plan.retries}")
    lines.append("  changes: " + ("yes" if plan.changes else "none"))
    return "\n".join(lines)
