"""k-NN on the local node without a network: the artifact list, the lang-painless module assembled for 2.x from its
Maven Central jars, strict checksums for jars, and the rebuild of installs made before k-NN was added."""

from __future__ import annotations

import json
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Optional

import pytest

from opensearch_llm.errors import DownloadError
from opensearch_llm.local import artifacts, maven, painless
from opensearch_llm.local.java import Jdk

POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <groupId>org.opensearch.plugin</groupId><artifactId>lang-painless</artifactId><version>2.19.6</version>
  <dependencies>
    <dependency><groupId>org.antlr</groupId><artifactId>antlr4-runtime</artifactId><version>4.13.1</version>
      <scope>compile</scope><exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.ow2.asm</groupId><artifactId>asm</artifactId><version>9.7</version></dependency>
    <dependency><groupId>org.opensearch.plugin</groupId><artifactId>opensearch-scripting-painless-spi</artifactId>
      <version>2.19.6</version><scope>runtime</scope></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13</version><scope>test</scope>
    </dependency>
    <dependency><groupId>x</groupId><artifactId>maybe</artifactId><version>1</version><optional>true</optional>
    </dependency>
  </dependencies>
</project>
"""


def jar(path: Path, *classes: str, target_jdk: str = "11") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nX-Compile-Target-JDK: {target_jdk}\n")
        for name in classes:
            zf.writestr(name, b"\xca\xfe\xba\xbe")
    return path


def properties(text: str) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


# --- what is fetched ------------------------------------------------------------------------------------

def test_plain_nodes_get_knn_last_and_secured_ones_the_security_plugin_instead() -> None:
    assert [a.coordinates for a in artifacts.artifacts_for("2.19.6")] == [
        "org.opensearch.distribution.integ-test-zip:opensearch:2.19.6:zip",
        "org.opensearch.plugin:opensearch-job-scheduler:2.19.6.0:zip",
        "org.opensearch.plugin:opensearch-ml-plugin:2.19.6.0:zip",
        "org.opensearch.plugin:opensearch-knn:2.19.6.0:zip"]
    secure = artifacts.artifacts_for("2.19.1", secure=True)
    assert secure[-1].coordinates == "org.opensearch.plugin:opensearch-security:2.19.1.0:zip"
    assert not any("knn" in a.artifact for a in secure)
    assert artifacts.artifacts_for("3.6.0")[-1].filename == "opensearch-knn-3.6.0.0.zip"


def test_the_painless_jars_are_the_module_and_what_its_pom_needs_at_run_time() -> None:
    assert [a.coordinates for a in painless.dependencies(POM)] == [
        "org.antlr:antlr4-runtime:4.13.1:jar", "org.ow2.asm:asm:9.7:jar",
        "org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.6:jar"]
    with pytest.raises(DownloadError, match="literal version"):
        painless.dependencies(POM.replace("<version>9.7</version>", "<version>${asm}</version>"))
    with pytest.raises(DownloadError, match="not valid XML"):
        painless.dependencies("<project>")


class _Mvn:
    """Stands in for ``mvn dependency:copy``: records the command and writes the artifact (or a broken one)."""

    def __init__(self, broken: bool = False) -> None:
        self.commands: list = []
        self.broken = broken

    def __call__(self, cmd: list, **_: Any) -> subprocess.CompletedProcess:
        self.commands.append(cmd)
        coordinates = next(a.split("=", 1)[1] for a in cmd if a.startswith("-Dartifact="))
        out = Path(next(a.split("=", 1)[1] for a in cmd if a.startswith("-DoutputDirectory=")))
        _group, name, version, packaging = coordinates.split(":")
        target = out / f"{name}-{version}.{packaging}"
        if packaging == "pom" or self.broken:
            target.write_text(POM if not self.broken else "truncated")
        else:
            jar(target, "a/B.class")
        return subprocess.CompletedProcess(cmd, 0, "", "")


def test_jars_and_poms_are_fetched_with_strict_checksums_zips_without(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mvn = _Mvn()
    monkeypatch.setattr(maven, "_mvn", lambda env: "mvn")
    monkeypatch.setattr(artifacts.subprocess, "run", mvn)
    env = {"OPENSEARCH_LLM_CACHE_DIR": str(tmp_path)}
    jars = painless.fetch_jars("2.19.6", env)
    assert [p.name for p in jars] == ["lang-painless-2.19.6.jar", "antlr4-runtime-4.13.1.jar", "asm-9.7.jar",
                                      "opensearch-scripting-painless-spi-2.19.6.jar"]
    assert all(p.parent == tmp_path / "zips" / "2.19.6" / "lang-painless" for p in jars)
    assert all("--strict-checksums" in cmd for cmd in mvn.commands) and len(mvn.commands) == 5
    assert all(p.with_name(p.name + ".verified").exists() for p in jars)
    painless.fetch_jars("2.19.6", env)
    assert len(mvn.commands) == 5  # verified copies are reused
    artifacts.fetch(artifacts.artifacts_for("2.19.6")[-1], tmp_path / "zips", env)
    assert "--strict-checksums" not in mvn.commands[-1]  # Maven Central has no checksum for some zips


def test_a_corrupt_jar_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maven, "_mvn", lambda env: "mvn")
    monkeypatch.setattr(artifacts.subprocess, "run", _Mvn(broken=True))
    with pytest.raises(DownloadError, match="not a valid zip"):
        artifacts.fetch(artifacts.Artifact("org.ow2.asm", "asm", "9.7", "jar"), tmp_path, {})
    assert not (tmp_path / "asm-9.7.jar.verified").exists()


# --- the assembled module -------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, jdk, classname", [
    ("org/opensearch/painless/PainlessPlugin.class", "11", "org.opensearch.painless.PainlessPlugin"),
    ("org/opensearch/painless/PainlessModulePlugin.class", "21", "org.opensearch.painless.PainlessModulePlugin")])
def test_the_descriptor_names_the_plugin_class_and_java_its_jar_was_built_for(tmp_path: Path, cls: str, jdk: str,
                                                                              classname: str) -> None:
    module_jar = jar(tmp_path / "lang-painless-2.19.6.jar", cls, "org/opensearch/painless/Compiler.class",
                     target_jdk=jdk)
    assert properties(painless.descriptor("2.19.6", module_jar)) == {
        "description": painless.DESCRIPTION, "version": "2.19.6", "name": "lang-painless", "classname": classname,
        "java.version": jdk, "opensearch.version": "2.19.6", "custom.foldername": "", "extended.plugins": "",
        "has.native.controller": "false"}


def test_assemble_writes_the_jars_descriptor_and_policy(tmp_path: Path) -> None:
    jars = [jar(tmp_path / "m2" / "lang-painless-2.19.6.jar", "org/opensearch/painless/PainlessPlugin.class"),
            jar(tmp_path / "m2" / "asm-9.7.jar", "org/objectweb/asm/ClassReader.class")]
    tree = tmp_path / "opensearch-2.19.6"
    (tree / "modules" / "transport-netty4").mkdir(parents=True)
    assert painless.missing(tree)
    module = painless.assemble(tree, "2.19.6", jars)
    assert not painless.missing(tree)
    assert sorted(p.name for p in module.iterdir()) == ["asm-9.7.jar", "lang-painless-2.19.6.jar",
                                                        "plugin-descriptor.properties", "plugin-security.policy"]
    assert 'permission java.lang.RuntimePermission "createClassLoader";' in painless.POLICY


# --- install: painless before k-NN, rebuilt when the plugin set changes -----------------------------------

def _dist_zip(path: Path, version: str, with_painless: bool) -> Path:
    modules = ["transport-netty4"] + (["lang-painless"] if with_painless else [])
    with zipfile.ZipFile(path, "w") as zf:
        for module in modules:
            zf.writestr(f"opensearch-{version}/modules/{module}/{module}.jar", b"jar")
        zf.writestr(f"opensearch-{version}/bin/opensearch-plugin", b"#!/bin/sh\n")
    return path


class _Installer:
    """Records ``opensearch-plugin install`` calls and whether lang-painless was there for each."""

    def __init__(self) -> None:
        self.installed: list = []

    def __call__(self, home: Path, zip_path: Path, jdk: Jdk) -> None:
        self.installed.append((zip_path.name, (home / "modules" / "lang-painless").is_dir()))
        (home / "plugins" / zip_path.stem).mkdir(parents=True)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """install() with fetching and plugin installation replaced; ``with_painless`` picks the distribution."""
    state: dict = {"with_painless": False, "fetched": 0, "jars_fetched": 0}
    zips = tmp_path / "zips"
    zips.mkdir()

    def fetch_all(version: str, env: Any = None, secure: bool = False) -> list:
        state["fetched"] += 1
        dist = _dist_zip(zips / f"opensearch-{version}.zip", version, state["with_painless"])
        return [dist] + [zips / a.filename for a in artifacts.artifacts_for(version, secure)[1:]]

    def fetch_jars(version: str, env: Any) -> list:
        state["jars_fetched"] += 1
        return [jar(zips / f"lang-painless-{version}.jar", "org/opensearch/painless/PainlessPlugin.class")]

    installer = _Installer()
    monkeypatch.setattr(artifacts, "fetch_all", fetch_all)
    monkeypatch.setattr(artifacts, "_install_plugin", installer)
    monkeypatch.setattr(painless, "fetch_jars", fetch_jars)
    state["installer"] = installer
    state["env"] = {"OPENSEARCH_LLM_RUNTIME_DIR": str(tmp_path / "run"), "OPENSEARCH_LLM_CACHE_DIR": str(zips)}
    return state


def _install(offline: dict, version: str = "2.19.6", secure: bool = False,
             messages: Optional[list] = None) -> Path:
    jdk = Jdk(home="/jdk", major=17, source="test")
    return artifacts.install(version, jdk, offline["env"], (messages if messages is not None else []).append,
                             secure=secure)


def test_a_2x_tree_gets_lang_painless_before_knn_is_installed(offline: dict) -> None:
    messages: list = []
    home = _install(offline, messages=messages)
    assert offline["installer"].installed == [("opensearch-job-scheduler-2.19.6.0.zip", True),
                                              ("opensearch-ml-plugin-2.19.6.0.zip", True),
                                              ("opensearch-knn-2.19.6.0.zip", True)]
    module = home / "modules" / "lang-painless"
    assert properties((module / "plugin-descriptor.properties").read_text())["classname"] == \
        "org.opensearch.painless.PainlessPlugin"
    assert json.loads((home / ".opensearch-llm-installed.json").read_text())["plugins"] == list(artifacts.PLUGINS)
    assert any("lang-painless" in m for m in messages)
    for path in [module, *module.iterdir()]:  # the node runs as an unprivileged user when we are root
        assert path.stat().st_mode & stat.S_IROTH


def test_a_distribution_with_lang_painless_is_left_as_it_is(offline: dict) -> None:
    offline["with_painless"] = True
    home = _install(offline, "3.6.0")
    assert offline["jars_fetched"] == 0
    assert (home / "modules" / "lang-painless" / "lang-painless.jar").exists()
    assert not (home / "modules" / "lang-painless" / "plugin-descriptor.properties").exists()


def test_an_install_made_before_knn_is_rebuilt_once(offline: dict) -> None:
    home = _install(offline)
    marker = home / ".opensearch-llm-installed.json"
    marker.write_text(json.dumps({"version": "2.19.6", "plugins": ["opensearch-job-scheduler", "opensearch-ml"]}))
    messages: list = []
    assert _install(offline, messages=messages) == home
    assert offline["fetched"] == 2 and any(m.startswith("rebuilding") for m in messages)
    assert json.loads(marker.read_text())["plugins"][-1] == "opensearch-knn"
    assert _install(offline) == home and offline["fetched"] == 2  # current: reused as it is


def test_the_secured_tree_keeps_its_plugins_and_gets_no_knn(offline: dict) -> None:
    home = _install(offline, "2.19.1", secure=True)
    assert home.name == "opensearch-2.19.1-secure"
    assert [name for name, _ in offline["installer"].installed][-1] == "opensearch-security-2.19.1.0.zip"
    assert not (home / "modules" / "lang-painless").exists() and offline["jars_fetched"] == 0
    assert _install(offline, "2.19.1", secure=True) == home and offline["fetched"] == 1
