"""``provision()``: a pytest fixture factory that puts a blueprint up for a test session and takes it down after.

See :mod:`opensearch_llm.testing.plugin` for the fixtures it depends on (``opensearch_client``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, TYPE_CHECKING, Union

import pytest

if TYPE_CHECKING:
    from opensearchpy import OpenSearch
    from opensearch_llm.blueprint.model import Blueprint


EnvArg = Union[Mapping[str, str], Callable[[pytest.FixtureRequest], Mapping[str, str]], None]


@dataclass
class ProvisionedBlueprint:
    """What a :func:`provision` fixture yields: the loaded blueprint and its live resources in the cluster."""

    blueprint: "Blueprint"
    run_id: str
    ids: dict
    client: "OpenSearch" = field(repr=False)
    result: Any = field(repr=False, default=None)

    @property
    def model_id(self) -> str:
        """The deployed model's id."""
        return str(self.ids["model"])

    @property
    def smoke(self) -> Any:
        """The smoke probe's ``SmokeResult`` (None when provisioned with ``smoke=False``)."""
        return self.result.smoke if self.result is not None else None

    def predict(self, message: str, *, system: Optional[str] = None, history: Sequence[dict] = (),
                params: Optional[dict] = None) -> Any:
        """One message through this run's model; returns a ``PredictResult`` (``.text``, ``.response``, ...)."""
        from opensearch_llm.lifecycle.conversation import predict

        return predict(self.client, self.blueprint, message, system=system, history=history, params=params,
                       model_id=self.model_id)


def _teardown(client: "OpenSearch", run_id: str, options: Any) -> Optional[str]:
    """``down --run``; the leftover summary when anything is left, else None."""
    from opensearch_llm import api

    report = api.down(client, run_id=run_id, options=options)
    return None if report.clean else report.summary()


def _lifecycle(client: "OpenSearch", blueprint: "Blueprint", journal_dir: str, smoke: bool) -> Iterator[ProvisionedBlueprint]:
    from opensearch_llm import api
    from opensearch_llm.errors import LeftoversError
    from opensearch_llm.lifecycle.events import RunOptions, add_note
    from opensearch_llm.lifecycle.naming import new_run_id

    options = RunOptions(journal_dir=journal_dir)
    run_id = new_run_id()
    hint = f"finish it with: opensearch-llm down --run {run_id} --journal-dir {journal_dir}"
    try:
        result = api.up(client, blueprint, options=options, smoke=smoke, run_id=run_id, mode="smoke")
    except BaseException as exc:
        try:
            left = _teardown(client, run_id, options)
            if left:
                add_note(exc, f"cleanup of run {run_id} left resources: {left}; {hint}")
        except Exception as cleanup:  # noqa: BLE001 - the original error stays the one raised
            add_note(exc, f"cleanup of run {run_id} failed: {cleanup}; {hint}")
        raise
    try:
        yield ProvisionedBlueprint(blueprint, run_id, dict(result.provisioned.ids), client, result)
    finally:
        left = _teardown(client, run_id, options)
        if left:
            raise LeftoversError(f"teardown of {blueprint.name} (run {run_id}) left resources: {left}; {hint}")


def provision(path: Union[str, Path], *, scope: str = "session", env: EnvArg = None,
              overrides: Sequence[str] = (), smoke: bool = True, name: Optional[str] = None) -> Any:
    """A pytest fixture that provisions the blueprint at ``path`` on the session cluster for its ``scope``.

    The fixture loads the blueprint (``env`` overlays ``os.environ``, or is a callable taking the
    ``FixtureRequest``; ``overrides`` are ``--set`` strings), runs ``api.up`` with run-scoped names
    (``smoke`` runs the blueprint's probe first), yields a :class:`ProvisionedBlueprint`, and always
    removes the run afterwards, failing tests included.  Assign the result to a module-level name in a
    ``conftest.py`` or test module: that name is the fixture's name unless ``name`` is given.
    """
    blueprint_path = str(path)
    extra = tuple(overrides)

    def _provisioned(request: pytest.FixtureRequest, opensearch_client: "OpenSearch",
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvisionedBlueprint]:
        from opensearch_llm.blueprint import load_blueprint

        values = env(request) if callable(env) else (env or {})
        bp = load_blueprint(blueprint_path, env={**os.environ, **values}, overrides=extra)
        journals = os.environ.get("OPENSEARCH_LLM_JOURNAL_DIR") or str(tmp_path_factory.mktemp("opensearch-llm-runs"))
        yield from _lifecycle(opensearch_client, bp, journals, smoke)

    _provisioned.__doc__ = f"The blueprint {blueprint_path} provisioned for the {scope} (opensearch_llm provision)."
    return pytest.fixture(scope=scope, name=name)(_provisioned)  # type: ignore[call-overload]
