"""Execute a plan: settings → model group → connector → model (register + deploy) → wait DEPLOYED →
the pipelines, indices and agent that use the model (:mod:`consumer_apply`).

Each created id, and every settings write, is journaled before the request that makes it. Any
failure (Ctrl-C included) rolls back what this run created unless ``keep_on_failure``; the
original error is re-raised with the cleanup outcome attached as notes. A rollback that could not
remove everything says what is left and raises :class:`LeftoversError` (exit 3) instead.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Callable, Optional

from opensearch_llm.blueprint.endpoints import endpoint_urls
from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle.consumer_apply import provision_consumers
from opensearch_llm.lifecycle.events import RunOptions, StepTimer, add_note
from opensearch_llm.lifecycle.facts import owned
from opensearch_llm.lifecycle.journal import Journal, owner_fields
from opensearch_llm.lifecycle.placement import serving_text
from opensearch_llm.lifecycle.provisioned import Provisioned
from opensearch_llm.lifecycle.naming import (
    SMOKE, UP, Marker, now_utc, parse_marker, provisioned_by, with_marker,
)
from opensearch_llm.lifecycle.plan import (
    CREATE, DEPLOY, NOOP, PROBE, REPLACE, SWITCH, UPDATABLE, UPDATE, Action, Plan,
)
from opensearch_llm.lifecycle.contend import contend, taken
from opensearch_llm.lifecycle.ledger import merged, record_of
from opensearch_llm.lifecycle.rollback import outcome_unknown, roll_back_run
from opensearch_llm.lifecycle.switch import Switch, prove, switch
from opensearch_llm.lifecycle.teardown import delete_one
from opensearch_llm.resources import agent, connector, model, model_group, settings
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint

UNTRUSTED = "not matching the trusted connector endpoint regex"
CREATE_ATTEMPTS = 5


class _Run:
    def __init__(self, client: "OpenSearch", blueprint: "Blueprint", plan: Plan, options: RunOptions,
                 journal: Journal) -> None:
        self.client, self.bp, self.plan, self.options, self.journal = client, blueprint, plan, options, journal
        self.result = Provisioned(blueprint.name, plan.run_id)
        self.settings_writes = 0
        self.switch_from: Optional[str] = None
        self.group_marker: Optional[Marker] = None  # the marker of the group this run created (its settings record)

    def marker(self, digest: Optional[str] = None) -> Marker:
        return Marker(self.plan.run_id, self.bp.name, now_utc(), digest, SMOKE if self.plan.mode == SMOKE else UP,
                      self.plan.owner).with_extra(**self.plan.lease)

    def write_settings(self, urls: list[str], flags: tuple = ()) -> None:
        """Make the settings allow ``urls`` and ``flags``: read fresh, journal each change before it is sent,
        re-read until it holds (another process on another host may write at the same time)."""
        def journaled(_facts: settings.SettingsFacts, change: settings.SettingsChange) -> None:
            self.journal.write("settings", seq=self.settings_writes, change=asdict(change))
            self.settings_writes += 1

        if settings.ensure(self.client, urls, flags, self.options.sleep, journaled).changes:
            self.result.changed = True

    def create_or_find(self, kind: str, name: str, create: Callable[[], str]) -> str:
        """Create; when the outcome is unknown, look the resource up by name and run before trying again."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return create()
            except ClusterError as exc:
                if not outcome_unknown(exc) or attempt == CREATE_ATTEMPTS:
                    raise
                found = self.find_own(kind, name)
                if found:
                    return found
                self.options.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    def find_own(self, kind: str, name: str) -> Optional[str]:
        """This run's resource named ``name``; searched across one index refresh interval."""
        lister = {"model_group": model_group.list_marked, "connector": connector.list_marked,
                  "model": model.list_marked, "agent": agent.list_marked}[kind]
        for _ in range(3):
            try:
                for res in owned(kind, lister(self.client)):
                    if res.name == name and res.marker.run == self.plan.run_id:
                        return res.id
            except ClusterError:
                pass
            self.options.sleep(0.6)
        return None

    def created(self, kind: str, rid: str, name: str, step: Optional[str] = None) -> None:
        """Journal a creation; ``step`` tells apart two resources of one kind (a RAG and a k-NN index)."""
        self.journal.write("created", kind=kind, id=rid, name=name)
        self.result.ids[step or kind] = rid
        self.result.created.append(step or kind)
        self.result.changed = True

    def reused(self, kind: str, action: Action, timer: StepTimer) -> bool:
        """Take over an existing resource on a no-op action; True when nothing is to be created."""
        if action.op != NOOP:
            return False
        self.result.ids[kind] = action.resource_id or ""
        timer.done(f"{action.resource_id} (exists)")
        return True

    def settings_step(self) -> None:
        timer = StepTimer(self.options, "settings")
        change = self.plan.settings_change
        if not change.changes:
            timer.done("unchanged")
            return
        self.write_settings(endpoint_urls(self.bp.connector.body), change.enable_flags)
        timer.done(f"trusted +{len(change.add_regexes)}" + (", private IPs on" if change.enable_private_ip else ""))

    def group_step(self) -> None:
        """The model group first: its marker holds the settings record before any setting is written."""
        timer = StepTimer(self.options, "model group")
        action = self.plan.action("model_group")
        record = self.plan.settings_record
        if self.reused("model_group", action, timer):
            if self.plan.settings_change.changes and not record.empty:
                self._record_on(action)
            return
        self.group_marker = self.marker().with_extra(**record.tokens())
        desc = with_marker(self.bp.model_group.description, self.group_marker)
        self.result.group_description = desc
        try:
            rid = self.create_or_find("model_group", action.name,
                                      lambda: model_group.create(self.client, action.name, desc,
                                                                 self.bp.model_group.access))
        except ClusterError as exc:
            taken(exc, action.name)
            raise
        self.created("model_group", rid, action.name)
        timer.done(rid)
        if self.plan.mode != SMOKE:
            contend(self.client, self.bp.name, action.name, rid, self.plan.run_id)

    def _record_on(self, action: Action) -> None:
        """Merge this run's settings record into the marker of the group it reuses (one Update Model Group)."""
        doc = model_group.get(self.client, action.resource_id or "") or {}
        kept = parse_marker(doc.get("description"))
        if kept is None:
            return
        record = merged(record_of(kept), self.plan.settings_record)
        model_group.update(self.client, action.resource_id or "",
                           with_marker(self.bp.model_group.description, kept.with_extra(**record.tokens())))

    def connector_step(self) -> None:
        timer = StepTimer(self.options, "connector")
        action = self.plan.action("connector")
        if self.reused("connector", action, timer):
            return
        if action.op == REPLACE:
            self._remove_old()
        self.switch_from = action.resource_id if action.op == SWITCH else self.switch_from
        body = {**self.bp.connector.body, **provisioned_by(self.plan.cluster_version), "name": action.name,
                "description": with_marker(self.bp.connector.body.get("description", ""),
                                           self.marker(self.plan.connector_hash))}
        rid = self.create_or_find("connector", action.name, lambda: self._create_connector(body))
        self.created("connector", rid, action.name)
        timer.done(rid)

    def _create_connector(self, body: dict) -> str:
        try:
            return connector.create(self.client, body)
        except ClusterError as exc:
            if exc.status != 400 or UNTRUSTED not in exc.message:
                raise
        # a concurrent run restored the trusted list between our settings step and now
        self.write_settings(endpoint_urls(body))
        return connector.create(self.client, body)

    def _remove_old(self) -> None:
        for kind in ("model", "connector"):
            old = self.plan.action(kind).resource_id
            if old:
                delete_one(self.client, kind, old, self.options)
                self.journal.write("deleted", kind=kind, id=old)

    def model_step(self) -> None:
        timer = StepTimer(self.options, "model")
        action = self.plan.action("model")
        if action.op == REPLACE and action.resource_id and self.plan.action("connector").op != REPLACE:
            delete_one(self.client, "model", action.resource_id, self.options)
            self.journal.write("deleted", kind="model", id=action.resource_id)
        if action.op in (NOOP, DEPLOY, UPDATE):
            self.result.ids["model"] = action.resource_id or ""
            self._in_place(action)
            timer.done(f"{action.resource_id} ({ {DEPLOY: 'deploy', UPDATE: 'updated in place'}.get(action.op, 'exists')})")
            return
        body = {"name": action.name, "function_name": self.bp.model.function_name,
                "model_group_id": self.result.ids["model_group"], "connector_id": self.result.ids["connector"],
                "description": with_marker(self.bp.model.description, self.marker(self.plan.model_hash)),
                **provisioned_by(self.plan.cluster_version), **self.bp.model.extra}
        node_ids = action.detail.get("node_ids") or []
        rid = self.create_or_find("model", action.name,
                                  lambda: model.register(self.client, body, deploy=not node_ids))
        self.created("model", rid, action.name)
        if node_ids:  # a custom deployment plan: register, then deploy to those nodes
            model.deploy(self.client, rid, node_ids)
        timer.done(rid)

    def _in_place(self, action: Action) -> None:
        """Switch the live model to this run's new connector, update its fields, deploy it: same model_id."""
        model_id = self.result.ids["model"]
        if self.plan.action("connector").op == SWITCH:
            change = Switch(model_id, self.switch_from, self.result.ids["connector"])
            if any(a.op == PROBE for a in self.plan.actions):  # tested before live traffic goes through it
                prove(self.client, self.bp, change.new, self.result.ids["model_group"], self.marker(),
                      self.journal, self.options)
            switch(self.client, change, self.journal, self.options)
            self.result.switched, self.result.changed = change, True
        if action.op == UPDATE:
            # is_enabled too: a model switched off by hand (drift) is switched back on
            fields = {"is_enabled": True, **{k: v for k, v in self.bp.model.extra.items() if k in UPDATABLE}}
            kept = parse_marker(action.detail.get("marker")) or self.marker()
            marker = Marker(kept.run, kept.blueprint, kept.created, self.plan.model_hash, kept.kind, kept.owner)
            fields["description"] = with_marker(self.bp.model.description, marker)
            model.update(self.client, model_id, fields)
            model.until_searchable(self.client, model_id, fields, self.options.sleep)
            self.result.updated, self.result.changed = sorted(fields), True
        if action.op == DEPLOY:
            model.deploy(self.client, model_id, action.detail.get("node_ids") or ())
            self.result.changed = True

    def deploy_step(self) -> None:
        timer = StepTimer(self.options, "deploy")
        if self.plan.action("model").op == NOOP and self.plan.action("connector").op == NOOP:
            # read a moment ago (see facts.fresh): DEPLOYED on every planned node, and nothing changed since
            self.result.model_state = "DEPLOYED"
            self.result.serving = self.plan.action("model").detail.get("serving", "")
            timer.done("DEPLOYED (unchanged)" + (f" on {self.result.serving}" if self.result.serving else ""))
            return
        timeout = self.options.deploy_timeout or self.bp.deploy.timeout
        node_ids = self.plan.action("model").detail.get("node_ids") or ()
        doc = model.wait_deployed(self.client, self.result.ids["model"], timeout, self.options.polling, node_ids)
        self.result.model_state = doc.get("model_state", "")
        self.result.serving = serving_text(doc, self.plan.node_names)
        timer.done(self.result.model_state + (f" on {self.result.serving}" if self.result.serving else ""))


def end_lease(client: "OpenSearch", provisioned: Provisioned) -> None:
    """A finished ``up``: its model group's marker drops the lease (the run is no longer in progress anywhere)."""
    marker = parse_marker(provisioned.group_description)
    if marker is None or "model_group" not in provisioned.created:
        return
    description = provisioned.group_description.replace(marker.text(), marker.with_extra(lease=None).text())
    model_group.update(client, provisioned.ids["model_group"], description)


def apply(client: "OpenSearch", blueprint: "Blueprint", plan: Plan, journal: Journal,
          options: RunOptions = RunOptions()) -> Provisioned:
    """Execute ``plan``; on any failure roll back this run's creations (unless ``keep_on_failure``)."""
    run = _Run(client, blueprint, plan, options, journal)
    # ledger: the settings record is in the cluster (lifecycle.ledger); this journal is a crash log
    journal.write("start", blueprint=blueprint.name, mode=plan.mode, names=asdict(plan.names),
                  source=blueprint.source, owner=plan.owner, ledger=True,
                  **owner_fields(plan.node_names, plan.cluster_uuid))
    try:
        run.group_step()
        run.settings_step()
        run.connector_step()
        run.model_step()
        run.deploy_step()
        provision_consumers(run)
    except BaseException as exc:
        journal.write("failed", error=mask_text(str(exc))[:500])
        if not options.keep_on_failure:
            roll_back_run(run, run.settings_writes, run.group_marker, exc)
        else:
            add_note(exc, f"kept on failure; remove later with: opensearch-llm down --run {plan.run_id}")
        raise
    journal.write("applied", ids=run.result.ids, created=run.result.created)
    return run.result


__all__ = ["CREATE", "Provisioned", "apply"]
