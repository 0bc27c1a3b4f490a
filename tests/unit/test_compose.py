"""docker-compose.yml (local development) and examples/github-actions.yml (CI) say what they should."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
WORKFLOW = ROOT / "examples" / "github-actions.yml"
ML_SETTINGS = {
    "plugins.ml_commons.only_run_on_ml_node": "false",
    "plugins.ml_commons.jvm_heap_memory_threshold": "100",
    "plugins.ml_commons.native_memory_threshold": "100",
    "plugins.ml_commons.disk_free_space_threshold": "0",
}


def as_env(value: Any) -> dict:
    """A compose/Actions environment as a dict of strings (it may be written as a list of KEY=VALUE)."""
    if isinstance(value, list):
        return dict(str(item).split("=", 1) for item in value)
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (value or {}).items()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_compose_is_marked_local_development_only() -> None:
    head = COMPOSE.read_text(encoding="utf-8").splitlines()[0]
    assert head.startswith("#") and "LOCAL DEVELOPMENT ONLY" in head


def test_compose_opensearch_has_ml_settings_and_no_security(compose: dict) -> None:
    service = compose["services"]["opensearch"]
    assert service["image"].startswith("opensearchproject/opensearch:2.19.")
    env = as_env(service["environment"])
    assert env["DISABLE_SECURITY_PLUGIN"] == "true" and env["discovery.type"] == "single-node"
    for key, value in ML_SETTINGS.items():
        assert env.get(key) == value, key
    # left to `up`, which adds exactly what each blueprint needs and restores it on `down`
    assert "plugins.ml_commons.trusted_connector_endpoints_regex" not in env
    assert service["healthcheck"]["test"]


def test_compose_ollama_and_loopback_only_ports(compose: dict) -> None:
    assert set(compose["services"]) == {"opensearch", "ollama"}
    assert compose["services"]["ollama"]["image"].startswith("ollama/ollama")
    ports = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert sorted(ports) == ["127.0.0.1:11434:11434", "127.0.0.1:9200:9200"]


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        said = ((version.stderr or version.stdout).strip() or "no output").splitlines()[0][:120]
        pytest.skip(f"`docker compose` is not available: {said}")
    proc = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_workflow_runs_smoke_with_a_junit_report_and_uploads_it(workflow: dict) -> None:
    runs = [step["run"] for step in _steps(workflow) if "run" in step]
    smoke = [r for r in runs if "opensearch-llm smoke" in r]
    assert len(smoke) == 1, runs
    args = shlex.split(smoke[0])
    assert args[:3] == ["opensearch-llm", "smoke", "connectors/*.yaml"] and "--junit" in args
    report = args[args.index("--junit") + 1]
    uploads = [s for s in _steps(workflow) if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert [u["with"]["path"] for u in uploads] == [report]
    assert uploads[0]["if"] == "always()"


def test_workflow_cluster_matches_compose_and_key_comes_from_secrets(workflow: dict, compose: dict) -> None:
    assert set(workflow.get(True, workflow.get("on", {}))) >= {"push", "pull_request"}  # YAML 1.1 reads `on` as True
    [job] = workflow["jobs"].values()
    service = job["services"]["opensearch"]
    assert service["image"].startswith("opensearchproject/opensearch:2.19.")
    env = as_env(service["env"])
    assert env["DISABLE_SECURITY_PLUGIN"] == "true"
    compose_env = as_env(compose["services"]["opensearch"]["environment"])
    for key, value in compose_env.items():
        if key.startswith("plugins.ml_commons."):
            assert env.get(key) == value, key
    assert job["env"]["DEEPSEEK_API_KEY"] == "${{ secrets.DEEPSEEK_API_KEY }}"
    assert "sk-" not in WORKFLOW.read_text(encoding="utf-8")
    assert "--health-cmd" in service["options"]
