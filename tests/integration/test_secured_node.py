"""A real OpenSearch 2.19.1 with the security plugin: `local start --secure` through the CLI, and the fixture.

The CLI test runs first and stops its node before the session fixture's node starts, so at most one
node of this module runs at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

from opensearch_llm.local.process import pid_alive, pids_matching
from opensearch_llm.local.versions import SECURE_VERSION

ML_SEARCH = {"query": {"match_all": {}}, "size": 1}
SETTING = {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}}


def local(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSEARCH_")}
    return subprocess.run([sys.executable, "-m", "opensearch_llm", "local", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _curl_code(url: str, ca: str, *extra: str) -> str:
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, *extra, url],
                          capture_output=True, text=True, timeout=30).stdout


def test_local_start_secure_through_the_cli() -> None:
    name = f"sectest-{os.getpid()}"
    outputs: list[str] = []
    began = time.monotonic()
    started = local("start", "--secure", "--name", name, "--json")
    elapsed = time.monotonic() - began
    outputs += [started.stdout, started.stderr]
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    sys.stderr.write(f"[secured node] local start --secure took {elapsed:.1f}s\n")
    try:
        url, ca = info["url"], info["ca_certs"]
        assert url.startswith("https://127.0.0.1:") and info["version"] == SECURE_VERSION
        assert info["username"] == "admin" and info["ml_user"] == "ml-user"
        for key in ("password_file", "ml_password_file"):
            assert stat.S_IMODE(Path(info[key]).stat().st_mode) == 0o600
            assert Path(info[key]).parent == Path(info["dir"]) / "security"
        password = Path(info["password_file"]).read_text().strip()
        ml_password = Path(info["ml_password_file"]).read_text().strip()
        assert len(password) >= 24 and password != ml_password

        assert requests.get(f"{url}/", verify=ca, timeout=10).status_code == 401
        if shutil.which("curl"):
            assert _curl_code(f"{url}/", ca) == "401"
            # the password reaches curl through a config file on stdin, not its command line
            cfg = f'user = "admin:{password}"\n'
            code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-K", "-",
                                   f"{url}/_cat/plugins"], input=cfg, capture_output=True, text=True, timeout=30)
            assert code.stdout == "200"
        admin = ("admin", password)
        plugins = requests.get(f"{url}/_cat/plugins?format=json", auth=admin, verify=ca, timeout=10)
        assert plugins.status_code == 200
        assert {"opensearch-ml", "opensearch-job-scheduler", "opensearch-security"} <= {
            p["component"] for p in plugins.json()}
        assert requests.get(f"{url}/", auth=("admin", password + "x"), verify=ca, timeout=10).status_code == 401

        ml = ("ml-user", ml_password)
        account = requests.get(f"{url}/_plugins/_security/api/account", auth=ml, verify=ca, timeout=10).json()
        assert account["roles"] == ["ml_full_access"]
        for path in ("_plugins/_ml/models/_search", "_plugins/_ml/connectors/_search",
                     "_plugins/_ml/model_groups/_search"):
            found = requests.post(f"{url}/{path}", json=ML_SEARCH, auth=ml, verify=ca, timeout=10)
            assert found.status_code == 200, (path, found.text)
        denied = requests.put(f"{url}/_cluster/settings", json=SETTING, auth=ml, verify=ca, timeout=10)
        assert denied.status_code == 403 and "cluster:admin/settings/update" in denied.text

        again = local("start", "--secure", "--name", name, "--json")
        outputs += [again.stdout, again.stderr]
        assert again.returncode == 0 and json.loads(again.stdout)["pid"] == info["pid"]
        status = local("status", "--name", name, "--json")
        outputs += [status.stdout, status.stderr]
        assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
        human = local("status", "--name", name)
        logs = local("logs", "--name", name, "-n", "400")
        outputs += [human.stdout, human.stderr, logs.stdout, logs.stderr]
        assert url in human.stdout
        plain = local("start", "--version", SECURE_VERSION, "--name", name)
        outputs += [plain.stdout, plain.stderr]
        assert plain.returncode == 1 and "secured" in plain.stderr
    finally:
        stopped = local("stop", "--name", name, "--purge")
        outputs += [stopped.stdout, stopped.stderr]
    assert stopped.returncode == 0, stopped.stderr
    assert pids_matching(str(Path(info["dir"]) / "config")) == [] and not pid_alive(info["pid"])
    assert local("status", "--name", name).returncode == 1
    assert not Path(info["dir"]).exists()
    for text in outputs:
        assert password not in text and ml_password not in text


def test_a_version_without_a_security_zip_is_one_line_naming_2_19_1() -> None:
    failed = local("start", "--secure", "--version", "3.99.0", "--name", f"nosec-{os.getpid()}", timeout=300)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "2.19.1" in errors[0] and "opensearch-security" in errors[0], failed.stderr


def test_the_secured_node_fixture(opensearch_secured_node) -> None:  # type: ignore[no-untyped-def]
    node = opensearch_secured_node
    assert node.url.startswith("https://") and Path(node.ca_certs).is_file()
    assert node.password not in repr(node) and node.ml_password not in repr(node)
    admin, ml = (node.username, node.password), (node.ml_user, node.ml_password)
    assert requests.get(f"{node.url}/_cluster/health", verify=node.ca_certs, timeout=10).status_code == 401
    health = requests.get(f"{node.url}/_cluster/health", auth=admin, verify=node.ca_certs, timeout=10)
    assert health.json()["status"] in ("green", "yellow")
    models = requests.post(f"{node.url}/_plugins/_ml/models/_search", json=ML_SEARCH, auth=ml, verify=node.ca_certs,
                           timeout=10)
    assert models.status_code == 200
    assert requests.put(f"{node.url}/_cluster/settings", json=SETTING, auth=ml, verify=node.ca_certs,
                        timeout=10).status_code == 403

    from opensearch_llm.secrets import mask_text

    assert node.password not in mask_text(f"x {node.password} y")  # registered with the masker
