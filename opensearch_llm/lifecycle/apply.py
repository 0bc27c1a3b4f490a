"""Execute a plan: settings → model group → connector → model (register + deploy) → wait DEPLOYED.

Each created id is journaled before the next step. Any failure (Ctrl-C included) rolls back
what this run created unless ``keep_on_failure``; the original error is re-raised with the
cleanup outcome attached as notes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle.events import RunOptions, StepTimer, add_note
from opensearch_llm.lifecycle.journal import Journal
from opensearch_llm.lifecycle.naming import Marker, now_utc, with_marker
from opensearch_llm.lifecycle.plan import CREATE, DEPLOY, NOOP, REPLACE, Plan, endpoint_urls
from opensearch_llm.lifecycle.teardown import delete_with_retry, teardown
from opensearch_llm.resources import connector, model, model_group, settings

UNTRUSTED = "not matching the trusted connector endpoint regex"


@dataclass
class Provisioned:
    """The outcome of ``apply``: ids by kind, what this run created, and the model's final state."""

    blueprint: str
    run_id: str
    ids: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    changed: bool = False
    model_state: str = ""

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def settings_change_from(entry: dict) -> settings.SettingsChange:
    """Rebuild a SettingsChange from its journal entry."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in entry["change"].items()}
    return settings.SettingsChange(**fields)


class _Run:
    def __init__(self, client: Any, blueprint: Any, plan: Plan, options: RunOptions, journal: Journal) -> None:
        self.client, self.bp, self.plan, self.options, self.journal = client, blueprint, plan, options, journal
        self.result = Provisioned(blueprint.name, plan.run_id)
        self.settings_written: Optional[settings.SettingsChange] = None

    def marker(self, digest: Optional[str] = None) -> Marker:
        return Marker(self.plan.run_id, self.bp.name, now_utc(), digest)

    def created(self, kind: str, rid: str, name: str) -> None:
        self.journal.write("created", kind=kind, id=rid, name=name)
        self.result.ids[kind] = rid
        self.result.created.append(kind)
        self.result.changed = True

    def reused(self, kind: str, action: Any, timer: StepTimer) -> bool:
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
        self.journal.write("settings", change=asdict(change))
        settings.apply(self.client, settings.read(self.client), change)
        self.settings_written = change
        self.result.changed = True
        timer.done(f"trusted +{len(change.add_regexes)}" + (", private IPs on" if change.enable_private_ip else ""))

    def group_step(self) -> None:
        timer = StepTimer(self.options, "model group")
        action = self.plan.action("model_group")
        if self.reused("model_group", action, timer):
            return
        desc = with_marker(self.bp.model_group.description, self.marker())
        rid = model_group.create(self.client, action.name, desc)
        self.created("model_group", rid, action.name)
        timer.done(rid)

    def connector_step(self) -> None:
        timer = StepTimer(self.options, "connector")
        action = self.plan.action("connector")
        if self.reused("connector", action, timer):
            return
        if action.op == REPLACE:
            self._remove_old()
        body = {**self.bp.connector.body, "name": action.name,
                "description": with_marker(self.bp.connector.body.get("description", ""),
                                           self.marker(self.plan.connector_hash))}
        rid = self._create_connector(body)
        self.created("connector", rid, action.name)
        timer.done(rid)

    def _create_connector(self, body: dict) -> str:
        try:
            return connector.create(self.client, body)
        except ClusterError as exc:
            if exc.status != 400 or UNTRUSTED not in exc.message:
                raise
        # a concurrent run restored the trusted list between our settings step and now
        facts = settings.read(self.client)
        settings.apply(self.client, facts, settings.plan_change(facts, endpoint_urls(body)))
        return connector.create(self.client, body)

    def _remove_old(self) -> None:
        for kind in ("model", "connector"):
            old = self.plan.action(kind).resource_id
            if old:
                delete_with_retry(self.client, kind, old, self.options)
                self.journal.write("deleted", kind=kind, id=old)

    def model_step(self) -> None:
        timer = StepTimer(self.options, "model")
        action = self.plan.action("model")
        if action.op == REPLACE and action.resource_id and self.plan.action("connector").op != REPLACE:
            delete_with_retry(self.client, "model", action.resource_id, self.options)
            self.journal.write("deleted", kind="model", id=action.resource_id)
        if action.op in (NOOP, DEPLOY):
            self.result.ids["model"] = action.resource_id or ""
            if action.op == DEPLOY:
                model.deploy(self.client, self.result.ids["model"])
                self.result.changed = True
            timer.done(f"{action.resource_id} ({'deploy' if action.op == DEPLOY else 'exists'})")
            return
        body = {"name": action.name, "function_name": self.bp.model.function_name,
                "model_group_id": self.result.ids["model_group"], "connector_id": self.result.ids["connector"],
                "description": with_marker(self.bp.model.description, self.marker(self.plan.model_hash)),
                **self.bp.model.extra}
        rid = model.register(self.client, body, deploy=True)
        self.created("model", rid, action.name)
        timer.done(rid)

    def deploy_step(self) -> None:
        timer = StepTimer(self.options, "deploy")
        timeout = self.options.deploy_timeout or self.bp.deploy.timeout
        doc = model.wait_deployed(self.client, self.result.ids["model"], timeout, self.options.polling)
        self.result.model_state = doc.get("model_state", "")
        timer.done(self.result.model_state)

    def rollback(self, exc: BaseException) -> None:
        created = {k: self.result.ids[k] for k in self.result.created}
        if not created and not self.settings_written:
            return
        report = teardown(self.client, created, self.options, self.journal, self.settings_written)
        summary = ", ".join(f"{d['kind']} {d['id']}" for d in report.deleted) or "nothing"
        add_note(exc, f"rolled back this run: deleted {summary}")
        for err in report.errors:
            add_note(exc, f"cleanup error: {err}")
        if report.leftovers:
            add_note(exc, f"left behind: {report.leftovers}; run: opensearch-llm sweep --run {self.plan.run_id} --yes")


def apply(client: Any, blueprint: Any, plan: Plan, journal: Journal, options: RunOptions = RunOptions()) -> Provisioned:
    """Execute ``plan``; on any failure roll back this run's creations (unless ``keep_on_failure``)."""
    run = _Run(client, blueprint, plan, options, journal)
    journal.write("start", blueprint=blueprint.name, mode=plan.mode, names=asdict(plan.names),
                  source=blueprint.source)
    try:
        run.settings_step()
        run.group_step()
        run.connector_step()
        run.model_step()
        run.deploy_step()
    except BaseException as exc:
        journal.write("failed", error=str(exc)[:500])
        if not options.keep_on_failure:
            run.rollback(exc)
        else:
            add_note(exc, f"kept on failure; remove later with: opensearch-llm down --run {plan.run_id}")
        raise
    journal.write("applied", ids=run.result.ids, created=run.result.created)
    return run.result


__all__ = ["CREATE", "Provisioned", "apply", "settings_change_from"]
