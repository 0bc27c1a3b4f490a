"""The smoke probe: send the blueprint's probe through ``_predict`` and check every expectation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Optional

from opensearch_llm.blueprint.paths import find_path
from opensearch_llm.errors import SmokeError, excerpt
from opensearch_llm.lifecycle.events import RunOptions, StepTimer
from opensearch_llm.resources import predict as predict_api
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch
    from opensearch_llm.blueprint.model import Blueprint


@dataclass
class SmokeResult:
    """The probe's outcome: ``ok`` when every expectation held."""

    ok: bool
    seconds: float
    answer: str = ""
    failures: list[str] = field(default_factory=list)
    checks: list = field(default_factory=list)  # consumer checks (lifecycle.consumer_smoke.ConsumerCheck), one JUnit case each
    serving: str = ""  # where the model served the probe: "3/3 nodes: node-1, ..."

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def run_probe(client: "OpenSearch", blueprint: "Blueprint", model_id: str, options: RunOptions = RunOptions(),
              serving: str = "") -> SmokeResult:
    """Predict with ``smoke.parameters``; raise :class:`SmokeError` when an expectation fails. ``serving`` says
    where the model is deployed (reported with the answer)."""
    timer = StepTimer(options, "smoke")
    prediction = predict_api.predict(client, model_id, blueprint.smoke.parameters, blueprint.smoke.timeout)
    failures = blueprint.smoke.check(prediction.response)
    answer = find_path(prediction.response, blueprint.predict.answer)
    result = SmokeResult(ok=not failures, seconds=prediction.seconds,
                         answer=excerpt(answer if isinstance(answer, str) else str(answer), 200),
                         failures=failures, serving=serving)
    if failures:
        timer.done("; ".join(failures), status="failed")
        raise SmokeError(f"smoke probe of {blueprint.name} failed: " + "; ".join(failures), failures=failures)
    timer.done(f"{prediction.seconds * 1000:.0f} ms: {result.answer!r}" + (f" (model on {serving})" if serving else ""))
    return result


@dataclass
class SmokeRun:
    """One blueprint's smoke run: up → probe → down with run-scoped names."""

    blueprint: str
    run_id: str
    ok: bool
    seconds: float
    smoke: Optional[SmokeResult] = None
    error: str = ""
    teardown: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)  # consumer checks, also when one failed

    def __setattr__(self, name: str, value: object) -> None:
        # an exception's text may quote a key: masked however the error gets here (creation or assignment)
        super().__setattr__(name, mask_text(value) if name == "error" and isinstance(value, str) else value)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"blueprint": self.blueprint, "run_id": self.run_id, "ok": self.ok, "seconds": self.seconds,
                "smoke": self.smoke.to_dict() if self.smoke else None, "error": self.error,
                "teardown": self.teardown, "checks": [c.to_dict() for c in self.checks]}
