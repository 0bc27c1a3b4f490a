"""The ML Commons cluster settings a remote connector and its consumers depend on.

Policy: merge exactly the trusted-endpoint regexes a blueprint needs into the current list
(never ``.*``, never drop an entry); enable private IPs only for private endpoints; turn on a
feature flag (memory, RAG pipelines, agents) only where a consumer needs it and it is off; record
the prior persistent values so teardown restores them, unless someone changed them since.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, TYPE_CHECKING

from opensearch_llm.blueprint.endpoints import (  # noqa: F401 - part of this module's interface
    endpoint_regex, is_private, is_trusted, origin,
)
from opensearch_llm.errors import ClusterError
from opensearch_llm.resources.common import about

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"
ACCESS_CONTROL = "plugins.ml_commons.model_access_control_enabled"
# the consumer features are on by default on 2.19 and 3.x (an admin may have turned them off); custom
# deployment plans are off by default
FEATURE_FLAGS = ("plugins.ml_commons.memory_feature_enabled", "plugins.ml_commons.rag_pipeline_feature_enabled",
                 "plugins.ml_commons.agent_framework_enabled", "plugins.ml_commons.allow_custom_deployment_plan")
FLAG_DEFAULTS = {"plugins.ml_commons.allow_custom_deployment_plan": "false"}
KIND = "cluster settings"
# one read-modify-write at a time in this process: runs of several blueprints at once (up -j) that touch the
# same setting never write over each other's entries
LOCK = threading.RLock()
# a read this process made, reused by the write that follows it unless this process wrote in between
_writes = 0
_last_read: "weakref.WeakKeyDictionary[Any, tuple[int, float, SettingsFacts]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SettingsFacts:
    """Effective and persistent values of the two settings."""

    trusted: tuple[str, ...]
    trusted_persistent: Optional[tuple[str, ...]]
    private_ip: bool
    private_ip_persistent: Optional[str]
    access_control: bool = False  # plugins.ml_commons.model_access_control_enabled (effective)
    flags_off: tuple[str, ...] = ()  # FEATURE_FLAGS that are off (effective)
    flags_persistent: tuple[tuple[str, Optional[str]], ...] = ()  # (flag, persistent value or None)


@dataclass(frozen=True)
class SettingsChange:
    """What a run writes, and what was there before (for restore)."""

    add_regexes: tuple[str, ...] = ()
    enable_private_ip: bool = False
    prior_trusted: tuple[str, ...] = ()
    prior_trusted_persistent: Optional[tuple[str, ...]] = None
    prior_private_ip_persistent: Optional[str] = None
    enable_flags: tuple[str, ...] = ()
    prior_flags: tuple[tuple[str, Optional[str]], ...] = ()  # (flag, persistent value before, None = unset)
    default_trusted: Optional[tuple[str, ...]] = None  # the cluster's default list, where it was visible (unset)

    @property
    def changes(self) -> bool:
        """True when this change writes anything."""
        return bool(self.add_regexes or self.enable_private_ip or self.enable_flags)


def _as_bool(value: Any) -> bool:
    return str(value).lower() == "true"


def read(client: "OpenSearch", reuse_within: float = 0.0) -> SettingsFacts:
    """Read the settings (persistent, transient and defaults).

    With ``reuse_within``, the last read through ``client`` is returned instead when it is at most that
    many seconds old and this process has written no setting since (its writes hold :data:`LOCK`, so
    runs of several blueprints at once still see each other's entries).
    """
    writes, cached = _writes, _last_read.get(client)
    if reuse_within and cached and cached[0] == writes and time.monotonic() - cached[1] <= reuse_within:
        return cached[2]
    started = time.monotonic()
    facts = _read(client)
    _last_read[client] = (writes, started, facts)
    return facts


def _put(client: "OpenSearch", body: dict) -> None:
    global _writes
    with LOCK, about(KIND):
        # counted before and after: a read that overlapped the request, or was taken before it, never matches
        _writes += 1
        try:
            client.cluster.put_settings(body={"persistent": body})
        finally:
            _writes += 1


def _read(client: "OpenSearch") -> SettingsFacts:
    with about(KIND):
        s = client.cluster.get_settings(include_defaults=True, flat_settings=True)
    persistent = s.get("persistent", {})
    merged = {**s.get("defaults", {}), **persistent, **s.get("transient", {})}
    trusted_p = persistent.get(TRUSTED)
    return SettingsFacts(
        trusted=tuple(merged.get(TRUSTED) or ()),
        trusted_persistent=tuple(trusted_p) if trusted_p is not None else None,
        private_ip=_as_bool(merged.get(PRIVATE_IP, "false")),
        private_ip_persistent=persistent.get(PRIVATE_IP),
        access_control=_as_bool(merged.get(ACCESS_CONTROL, "false")),
        flags_off=tuple(f for f in FEATURE_FLAGS if not _as_bool(merged.get(f, FLAG_DEFAULTS.get(f, "true")))),
        flags_persistent=tuple((f, persistent.get(f)) for f in FEATURE_FLAGS),
    )


def plan_change(facts: SettingsFacts, urls: Iterable[str], flags: Iterable[str] = ()) -> SettingsChange:
    """Pure: which regexes to add and whether to enable private IPs for ``urls``, and which of ``flags`` to turn on."""
    add: list[str] = []
    private = False
    for url in urls:
        if not is_trusted(url, [*facts.trusted, *add]):
            add.append(endpoint_regex(url))
        private = private or is_private(url)
    return SettingsChange(
        add_regexes=tuple(add), enable_private_ip=private and not facts.private_ip,
        prior_trusted=facts.trusted,
        prior_trusted_persistent=facts.trusted_persistent,
        prior_private_ip_persistent=facts.private_ip_persistent,
        enable_flags=tuple(f for f in FEATURE_FLAGS if f in set(flags) and f in facts.flags_off),
        prior_flags=facts.flags_persistent,
        default_trusted=facts.trusted if facts.trusted_persistent is None else None,
    )


# the settings API has no compare-and-set: every write is read fresh, sent, and checked by reading again after a
# pause, so that a process on another host that wrote from an older read is caught and its loss written again
VERIFY_PAUSE = 0.1
WRITE_ATTEMPTS = 6


def ensure(client: "OpenSearch", urls: Iterable[str], flags: Iterable[str] = (),
           sleep: Callable[[float], None] = time.sleep,
           on_write: Callable[[SettingsFacts, SettingsChange], None] = lambda _f, _c: None) -> SettingsChange:
    """Make the settings trust ``urls`` (private IPs included) and turn ``flags`` on, re-reading after each write
    until they hold; return the first change written (its prior values), or an empty change.

    ``on_write`` runs before each write (the journal records it first).
    """
    urls, flags = list(urls), list(flags)
    first: Optional[SettingsChange] = None
    with LOCK:
        for attempt in range(WRITE_ATTEMPTS):
            # a read younger than the pause may serve the first write: whoever wrote since checks after that pause
            facts = read(client, VERIFY_PAUSE) if attempt == 0 else _read(client)
            change = plan_change(facts, urls, flags)
            if not change.changes:
                return first or change
            first = first or change
            on_write(facts, change)
            apply(client, facts, change)
            sleep(VERIFY_PAUSE * (1 + random.random()))
    raise ClusterError(f"the ML Commons settings kept changing while opensearch-llm wrote them ({WRITE_ATTEMPTS} "
                       "tries): another process keeps writing the trusted endpoints", kind=KIND,
                       hint="find the process that rewrites plugins.ml_commons.trusted_connector_endpoints_regex, "
                            "then run the command again")


def write_until_restored(client: "OpenSearch", body_for: Callable[[SettingsFacts], dict],
                         sleep: Callable[[float], None] = time.sleep) -> None:
    """Write ``body_for(fresh read)`` until it asks for nothing more (a restore, checked like :func:`ensure`)."""
    with LOCK:
        for _attempt in range(WRITE_ATTEMPTS):
            body = body_for(_read(client))
            if not body:
                return
            _put(client, body)
            sleep(VERIFY_PAUSE * (1 + random.random()))
    raise ClusterError(f"the ML Commons settings kept changing while opensearch-llm restored them "
                       f"({WRITE_ATTEMPTS} tries)", kind=KIND, hint="run the command again")


def apply(client: "OpenSearch", facts: SettingsFacts, change: SettingsChange) -> None:
    """Write the change (one PUT); a no-op change writes nothing."""
    body: dict[str, Any] = {}
    if change.add_regexes:
        body[TRUSTED] = [*facts.trusted, *change.add_regexes]
    if change.enable_private_ip:
        body[PRIVATE_IP] = True
    body.update({flag: True for flag in change.enable_flags})
    if body:
        _put(client, body)


@dataclass(frozen=True)
class RestoreOutcome:
    """Notes on what was left alone; ``complete`` is False when a later restore must finish the job."""

    notes: tuple[str, ...] = ()
    complete: bool = True


def restore(client: "OpenSearch", change: SettingsChange, still_needed: Iterable[str] = (),
            default_trusted: Optional[tuple[str, ...]] = None) -> RestoreOutcome:
    """Undo ``change`` where nobody changed things since; return notes on what was left alone.

    ``still_needed`` holds endpoint URLs of other runs' connectors and the feature flags other runs'
    consumers use. Our regexes go unless such a URL matches them; entries others added stay. Private
    IPs are turned off again only when no endpoint added after ours still needs them; a flag goes back
    to its prior value unless it is still needed or someone turned it off since. A trusted list that ends up
    equal to the cluster's default (``default_trusted``, known from the run that first changed it) is unset
    again, even when runs of ours overlapped.
    """
    if not change.changes:
        return RestoreOutcome()
    with LOCK:
        return _restore(client, change, still_needed, default_trusted or change.default_trusted)


def _restore(client: "OpenSearch", change: SettingsChange, still_needed: Iterable[str],
             default_trusted: Optional[tuple[str, ...]]) -> RestoreOutcome:
    now = read(client)
    needed = list(still_needed)
    ours = [r for r in change.add_regexes if r in now.trusted and not any(is_trusted(u, [r]) for u in needed)]
    remaining = tuple(r for r in now.trusted if r not in ours)
    kept = [r for r in change.add_regexes if r in now.trusted and r not in ours]
    body: dict[str, Any] = {}
    notes: list[str] = [f"kept {r}: another run's connector still uses it" for r in kept]
    deferred = bool(kept)
    if ours:
        unset = (change.prior_trusted_persistent is None and remaining == change.prior_trusted) or \
            (default_trusted is not None and remaining == tuple(default_trusted))
        body[TRUSTED] = None if unset else list(remaining)
    if change.enable_private_ip:
        added_since = [r for r in remaining if r not in change.prior_trusted]
        if not now.private_ip:
            notes.append("private_ip_enabled was already turned off by someone else; left as is")
        elif added_since:
            notes.append(f"private_ip_enabled left on: trusted endpoints added by others still need it: {added_since}")
            deferred = True
        else:
            body[PRIVATE_IP] = change.prior_private_ip_persistent
    flags_body, flag_notes = _restore_flags(change, now, needed)
    body.update(flags_body)
    notes += flag_notes
    deferred = deferred or any(flag in needed for flag in change.enable_flags)
    if body:
        _put(client, body)
    return RestoreOutcome(tuple(notes), complete=not deferred)


def _restore_flags(change: SettingsChange, now: SettingsFacts, needed: list[str]) -> tuple[dict, list[str]]:
    prior = dict(change.prior_flags)
    body: dict[str, Any] = {}
    notes: list[str] = []
    for flag in change.enable_flags:
        if flag in needed:
            notes.append(f"{flag} left on: another run's consumer still needs it")
        elif flag in now.flags_off:
            notes.append(f"{flag} was already turned off by someone else; left as is")
        else:
            body[flag] = prior.get(flag)
    return body, notes
