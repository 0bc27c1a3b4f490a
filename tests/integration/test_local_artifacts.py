"""What the launcher builds, checked against the real artifacts it builds from (fetched here if not cached yet).

These need Maven Central or a tree a node start made, so they live with the integration tests and fetch or build
what they need themselves: they never depend on an earlier test or on what is installed on the machine.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from opensearch_llm.local import painless, security
from opensearch_llm.local.java import find_jdk
from opensearch_llm.local.maven import artifacts_for, fetch
from opensearch_llm.local.versions import LINES, SECURE_VERSION
from opensearch_llm.paths import cache_dir, runtime_dir
from opensearch_llm.testing.plugin import SecuredNode

MODULE = "opensearch-3.6.0/modules/lang-painless/"


def _properties(text: str) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def _grants(text: str) -> list:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("permission ")]


def test_descriptor_and_policy_have_the_shape_of_the_module_in_the_3x_zip(tmp_path: Path) -> None:
    dist = fetch(artifacts_for("3.6.0")[0], cache_dir() / "zips" / "3.6.0", os.environ)
    with zipfile.ZipFile(dist) as zf:
        real = _properties(zf.read(MODULE + "plugin-descriptor.properties").decode())
        policy = zf.read(MODULE + "plugin-security.policy").decode()
        [jar_name] = [n for n in zf.namelist() if n.startswith(MODULE + "lang-painless-") and n.endswith(".jar")]
        module_jar = tmp_path / Path(jar_name).name
        module_jar.write_bytes(zf.read(jar_name))
    assert _properties(painless.descriptor(real["version"], module_jar)) == real
    assert _grants(painless.POLICY) == _grants(policy)


def test_hash_sh_of_the_installed_security_plugin_makes_a_bcrypt_hash(opensearch_secured_node: SecuredNode) -> None:
    home = runtime_dir() / "dist" / f"opensearch-{SECURE_VERSION}-secure"  # built by the fixture's node start
    jdk = find_jdk(LINES["2.19"], os.environ)
    hashed = security.hash_password("Not-a-real-password-1", home, jdk.home)
    assert hashed.startswith("$2") and len(hashed) == 60 and "Not-a-real" not in hashed
