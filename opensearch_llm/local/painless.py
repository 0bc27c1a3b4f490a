"""``modules/lang-painless`` for a distribution that ships without it, built from its official Maven Central jars.

k-NN extends lang-painless (its descriptor says ``extended.plugins=lang-painless``), so ``opensearch-plugin
install`` refuses k-NN on a tree without that module.  The 3.x integ-test zip ships the module; the 2.x one ships
only ``transport-netty4``, and Maven Central has no lang-painless zip for 2.x, only the module's jar and pom.
The module is assembled from exactly those: the module's jar and the jars its pom names (antlr4-runtime, the
asm jars, the painless SPI), each fetched with mvn like the zips (strict checksums), with the descriptor and the
security policy the OpenSearch build writes for the module (the shape of ``modules/lang-painless`` in the 3.x
integ-test zip, whose policy comes from the same source file).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Mapping, Sequence

from opensearch_llm.errors import DownloadError
from opensearch_llm.local.maven import Artifact, fetch
from opensearch_llm.paths import cache_dir

GROUP = "org.opensearch.plugin"
NAME = "lang-painless"
DESCRIPTION = "An easy, safe and fast scripting language for OpenSearch"
_POM = "{http://maven.apache.org/POM/4.0.0}"
# modules/lang-painless/plugin-security.policy of the 3.6.0 integ-test zip (the same source file as 2.x)
POLICY = """grant {
  // needed to generate runtime classes
  permission java.lang.RuntimePermission "createClassLoader";

  // needed to find the classloader to load allowlisted classes from
  permission java.lang.RuntimePermission "getClassLoader";
};
"""


def missing(tree: Path) -> bool:
    """True when the OpenSearch tree at ``tree`` has no ``modules/lang-painless``."""
    return not (tree / "modules" / NAME).is_dir()


def dependencies(pom_text: str) -> list[Artifact]:
    """The jars a module's pom needs at run time: its compile and runtime dependencies, not optional ones."""
    try:
        root = ET.fromstring(pom_text)
    except ET.ParseError as exc:
        raise DownloadError(f"the {NAME} pom is not valid XML ({exc})") from exc
    jars = []
    for dep in root.iter(f"{_POM}dependency"):
        field = {child.tag.removeprefix(_POM): (child.text or "").strip() for child in dep}
        if field.get("scope", "compile") not in ("compile", "runtime") or field.get("optional") == "true":
            continue
        if "${" in field.get("version", "${"):
            raise DownloadError(f"the {NAME} pom names {field.get('artifactId')} without a literal version")
        jars.append(Artifact(field["groupId"], field["artifactId"], field["version"], "jar"))
    return jars


def fetch_jars(version: str, env: Mapping[str, str]) -> list[Path]:
    """Fetch the module's jar and the jars its pom names (cached and verified like the zips); the module's first."""
    dest = cache_dir(env) / "zips" / version / NAME
    pom = fetch(Artifact(GROUP, NAME, version, "pom"), dest, env)
    wanted = [Artifact(GROUP, NAME, version, "jar"), *dependencies(pom.read_text(encoding="utf-8"))]
    return [fetch(artifact, dest, env) for artifact in wanted]


def descriptor(version: str, module_jar: Path) -> str:
    """``plugin-descriptor.properties`` for the module: plugin class and Java version read from its jar."""
    with zipfile.ZipFile(module_jar) as jar:
        names = set(jar.namelist())
        manifest = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    # 3.x renamed the class to PainlessModulePlugin; 2.x jars hold PainlessPlugin
    module_class = "org/opensearch/painless/PainlessModulePlugin.class"
    classname = "org.opensearch.painless." + ("PainlessModulePlugin" if module_class in names else "PainlessPlugin")
    java = next((line.split(":", 1)[1].strip() for line in manifest.splitlines()
                 if line.startswith("X-Compile-Target-JDK:")), "11")
    return "\n".join([
        "# written by opensearch-llm (opensearch_llm/local/painless.py): the distribution ships without this module",
        f"description={DESCRIPTION}", f"version={version}", f"name={NAME}", f"classname={classname}",
        f"java.version={java}", f"opensearch.version={version}", "custom.foldername=", "extended.plugins=",
        "has.native.controller=false", ""])


def assemble(tree: Path, version: str, jars: Sequence[Path]) -> Path:
    """Write ``modules/lang-painless`` into ``tree`` from ``jars`` (the module's jar first); return its path."""
    module = tree / "modules" / NAME  # tree is the install's staging copy: a failure removes all of it
    module.mkdir(parents=True)
    for jar in jars:
        shutil.copyfile(jar, module / jar.name)
    (module / "plugin-descriptor.properties").write_text(descriptor(version, jars[0]), encoding="utf-8")
    (module / "plugin-security.policy").write_text(POLICY, encoding="utf-8")
    return module
