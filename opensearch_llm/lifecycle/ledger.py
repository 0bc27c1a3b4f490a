"""The settings record kept in the cluster: what runs of ours changed in the ML Commons settings, and who
still needs it.

Every run that needs a settings entry writes a :class:`SettingsRecord` into the ownership marker of its
model group, which is created before the settings are written and deleted after the connector that needs
them. The records of the groups in the cluster together say which trusted-endpoint entries are ours,
which runs still need each of them, and the values from before the first run of ours (a run that finds
an entry of ours live inherits it into its own record). So any machine, with an empty state directory and
no provider key, can restore the settings exactly when the last run that needs an entry goes
(:func:`restore`); the local journal is only a crash log.

Nothing in a record is derived from a secret: origins (``scheme://host:port``) come from connector
endpoints, values are ``unset``/``true``/``false``, the default list is kept as a short digest. The
tokens use only the characters ML Commons 3.x accepts in a description.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from opensearch_llm.lifecycle.naming import Marker
from opensearch_llm.resources import settings

UNSET = "unset"
FOR_ANOTHER_RUN = "another run of ours still needs it"  # the note of an entry kept for a staying run's record
FLAG_NAMES = {"plugins.ml_commons.memory_feature_enabled": "memory",
              "plugins.ml_commons.rag_pipeline_feature_enabled": "rag",
              "plugins.ml_commons.agent_framework_enabled": "agent",
              "plugins.ml_commons.allow_custom_deployment_plan": "custom"}
FLAG_SETTINGS = {short: flag for flag, short in FLAG_NAMES.items()}


def list_digest(entries: Iterable[str]) -> str:
    """A short digest of a trusted-endpoint list (the default list is recorded this way, not spelled out)."""
    return hashlib.sha256(json.dumps(list(entries)).encode()).hexdigest()[:12]


def _encode_origin(origin: str) -> str:
    return origin.replace("[", "!").replace("]", "!")  # IPv6 brackets are not accepted in a description


def _decode_origin(token: str) -> str:
    parts = token.split("!")
    return parts[0] + "".join(("[" if i % 2 == 0 else "]") + p for i, p in enumerate(parts[1:]))


def _prior(value: Any) -> str:
    return UNSET if value is None else str(value).lower()


@dataclass(frozen=True)
class SettingsRecord:
    """What one run of ours needs from the settings that a run of ours changed, with the values from before."""

    trust: tuple[str, ...] = ()  # origins whose trusted-endpoint regex a run of ours added
    trusted_default: Optional[str] = None  # digest of the default list, when the setting was unset before
    private_ip: Optional[str] = None  # the persistent value before a run of ours turned private IPs on
    flags: tuple[tuple[str, str], ...] = ()  # (flag setting, persistent value before a run of ours turned it on)
    trusted_before: Optional[str] = None  # digest of the trusted list before the first entry of ours

    @property
    def empty(self) -> bool:
        """True when the run needs nothing that a run of ours changed."""
        return not (self.trust or self.private_ip or self.flags)

    def tokens(self) -> dict[str, Optional[str]]:
        """The marker tokens of this record (None drops one)."""
        return {"trust": ",".join(_encode_origin(o) for o in self.trust) or None,
                "tl": self.trusted_default, "tb": self.trusted_before, "pip": self.private_ip,
                "flags": ",".join(f"{FLAG_NAMES[f]}@{v}" for f, v in self.flags) or None}

    def regexes(self) -> list[str]:
        """The trusted-endpoint regexes of :attr:`trust`."""
        return [settings.endpoint_regex(origin + "/") for origin in self.trust]


def record_of(marker: Optional[Marker]) -> SettingsRecord:
    """The settings record in ``marker`` (an empty one when it has none)."""
    if marker is None:
        return SettingsRecord()
    trust = tuple(_decode_origin(o) for o in (marker.get("trust") or "").split(",") if o)
    flags = []
    for token in (marker.get("flags") or "").split(","):
        short, _, prior = token.partition("@")
        if short in FLAG_SETTINGS:
            flags.append((FLAG_SETTINGS[short], prior or UNSET))
    return SettingsRecord(trust, marker.get("tl"), marker.get("pip"), tuple(flags), marker.get("tb"))


def record_for(facts: settings.SettingsFacts, change: settings.SettingsChange, urls: Sequence[str],
               flags: Iterable[str], live: Sequence[SettingsRecord]) -> SettingsRecord:
    """Pure: the record of a run that needs ``urls`` and ``flags`` and writes ``change`` on top of ``facts``,
    inheriting what the ``live`` records of other runs say is ours."""
    added = {settings.origin(url) for url in urls if settings.endpoint_regex(url) in change.add_regexes}
    inherited = {o for rec in live for o in rec.trust}
    trust = tuple(sorted({settings.origin(u) for u in urls} & (added | inherited)))
    default = next((rec.trusted_default for rec in live if rec.trusted_default), None)
    before = next((rec.trusted_before for rec in live if rec.trusted_before), None)
    if added and facts.trusted_persistent is None:
        default = list_digest(facts.trusted)
    if added and before is None:
        before = list_digest(facts.trusted)
    private = _prior(facts.private_ip_persistent) if change.enable_private_ip else None
    if private is None and any(settings.is_private(u) for u in urls):
        private = next((rec.private_ip for rec in live if rec.private_ip), None)
    priors = dict(facts.flags_persistent)
    live_flags = {f: v for rec in live for f, v in rec.flags}
    mine = {f: _prior(priors.get(f)) for f in change.enable_flags}
    mine.update({f: live_flags[f] for f in flags if f in live_flags and f not in mine})
    return SettingsRecord(trust, default if trust else None, private, tuple(sorted(mine.items())),
                          before if trust else None)


def merged(first: SettingsRecord, second: SettingsRecord) -> SettingsRecord:
    """Both records in one (a run whose group is reused and that needed a new entry)."""
    return SettingsRecord(tuple(sorted(set(first.trust) | set(second.trust))),
                          first.trusted_default or second.trusted_default,
                          first.private_ip or second.private_ip,
                          tuple(sorted({**dict(second.flags), **dict(first.flags)}.items())),
                          first.trusted_before or second.trusted_before)


@dataclass(frozen=True)
class RestorePlan:
    """The settings body that restores what the leaving runs changed, and why anything stays."""

    body: dict
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()  # values someone else changed since: not restored, the command fails


def plan_restore(now: settings.SettingsFacts, leaving: Sequence[SettingsRecord], staying: Sequence[SettingsRecord],
                 still_needed: Sequence[str] = ()) -> RestorePlan:
    """Pure: undo the ``leaving`` records' entries that no ``staying`` record (nor a staying connector's URL or
    consumer flag in ``still_needed``) needs, back to the values from before the first run of ours."""
    needed_urls = [n for n in still_needed if "://" in n]
    body: dict[str, Any] = {}
    notes: list[str] = []
    conflicts: list[str] = []
    staying_trust = {o for rec in staying for o in rec.trust}
    going = {o for rec in leaving for o in rec.trust} - staying_trust
    notes += [f"kept {settings.endpoint_regex(o + '/')}: {FOR_ANOTHER_RUN}"
              for o in sorted({o for rec in leaving for o in rec.trust} & staying_trust)]
    remove = []
    for origin in sorted(going):
        regex = settings.endpoint_regex(origin + "/")
        if regex not in now.trusted:
            continue  # someone removed it already
        if any(settings.is_trusted(url, [regex]) for url in needed_urls):
            notes.append(f"kept {regex}: a connector of ours that stays still uses it")
            continue
        remove.append(regex)
    remaining = [r for r in now.trusted if r not in remove]
    if remove:
        default = next((rec.trusted_default for rec in [*leaving, *staying] if rec.trusted_default), None)
        # the default list again means no entry of anyone's is left: unset it, as it was (byte-equal settings)
        unset = default is not None and list_digest(remaining) == default
        body[settings.TRUSTED] = None if unset else remaining
    before = next((rec.trusted_before for rec in [*leaving, *staying] if rec.trusted_before), None)
    if before and list_digest(remaining) != before and not staying_trust:
        # entries someone else added since ours may be private endpoints too
        if any(rec.private_ip for rec in leaving):
            notes.append("private_ip_enabled left on: trusted endpoints added by others since may need it")
            leaving = [dataclasses.replace(rec, private_ip=None) for rec in leaving]
    _restore_private_ip(now, leaving, staying, needed_urls, body, notes, conflicts)
    _restore_flags(now, leaving, staying, still_needed, body, notes, conflicts)
    return RestorePlan(body, tuple(notes), tuple(conflicts))


def _restore_private_ip(now: settings.SettingsFacts, leaving: Sequence[SettingsRecord],
                        staying: Sequence[SettingsRecord], needed_urls: Sequence[str], body: dict,
                        notes: list[str], conflicts: list[str]) -> None:
    prior = next((rec.private_ip for rec in leaving if rec.private_ip), None)
    if prior is None:
        return
    if any(rec.private_ip for rec in staying):
        # a note, like every entry kept for another run: the caller lists the cluster again before trusting it
        notes.append(f"private_ip_enabled left on: {FOR_ANOTHER_RUN}")
        return
    if any(settings.is_private(url) for url in needed_urls):
        notes.append("private_ip_enabled left on: a connector of ours that stays has a private endpoint")
        return
    if now.private_ip_persistent is None or str(now.private_ip_persistent).lower() != "true":
        if _prior(now.private_ip_persistent) != prior:
            conflicts.append(f"{settings.PRIVATE_IP} was changed by someone else since opensearch-llm turned it "
                             f"on (now {_prior(now.private_ip_persistent)}, before {prior}); left as is")
        return
    body[settings.PRIVATE_IP] = None if prior == UNSET else prior


def _restore_flags(now: settings.SettingsFacts, leaving: Sequence[SettingsRecord], staying: Sequence[SettingsRecord],
                   still_needed: Sequence[str], body: dict, notes: list[str], conflicts: list[str]) -> None:
    staying_flags = {f for rec in staying for f, _v in rec.flags} | set(still_needed)
    persistent = dict(now.flags_persistent)
    for flag, prior in {f: v for rec in leaving for f, v in rec.flags}.items():
        if flag in staying_flags:
            notes.append(f"{flag} left on: a consumer of ours that stays still needs it")
        elif str(persistent.get(flag)).lower() == "true":
            body[flag] = None if prior == UNSET else prior
        elif _prior(persistent.get(flag)) != prior:
            conflicts.append(f"{flag} was changed by someone else since opensearch-llm turned it on "
                             f"(now {_prior(persistent.get(flag))}, before {prior}); left as is")
