"""The shipped blueprint catalog: every ``*.yaml`` of the repository's ``connectors/``, addressable by name.

A wheel carries them inside the package as ``opensearch_llm/connectors/`` (``setup.py`` adds them at build
time), found with :mod:`importlib.resources`; an editable install or a checkout reads ``connectors/`` next to
the package.  :func:`resolve` turns a BLUEPRINT argument into a file: an existing path wins, else a
shipped name (``deepseek-chat``, or ``deepseek-chat.yaml``).

::

    from opensearch_llm import catalog
    [e.name for e in catalog.entries()]        # ['deepseek-chat', 'deepseek-reasoner', ...]
    catalog.resolve("deepseek-chat")           # Path(.../connectors/deepseek-chat.yaml)
    catalog.init_copy("ollama-chat")           # writes ./ollama-chat.yaml, an editable copy
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import yaml

from opensearch_llm.errors import InvalidInputError

PACKAGE = "opensearch_llm"
SHIPPED_DIR = "connectors"
SCHEMA_COMMENT = "# yaml-language-server: $schema="
PROVIDERS = {"deepseek": "DeepSeek", "ollama": "Ollama", "openai": "OpenAI-compatible"}
#: ``${env:NAME}`` or ``${env:NAME:-default}``: group 1 the name, group 2 the default (None without one).
ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

PathArg = Union[str, Path]


def catalog_dir() -> Optional[Path]:
    """Where the shipped blueprints are: inside the installed package, else the checkout's ``connectors/``."""
    packaged = resources.files(PACKAGE) / SHIPPED_DIR
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / SHIPPED_DIR).is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / SHIPPED_DIR
    return None


def shipped() -> Dict[str, Path]:
    """Shipped blueprint name -> file, sorted by name (empty when no catalog is installed)."""
    folder = catalog_dir()
    if folder is None:
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def shipped_names() -> List[str]:
    """The names of every shipped blueprint."""
    return list(shipped())


def _looks_like_name(text: str) -> bool:
    return bool(text) and "/" not in text and os.sep not in text


def lookup(name: str) -> Optional[Path]:
    """The shipped file called ``name`` (with or without ``.yaml``), or None."""
    if not _looks_like_name(name):
        return None
    return shipped().get(name[:-5] if name.endswith(".yaml") else name)


def resolve(blueprint: PathArg) -> Path:
    """The file a BLUEPRINT argument means: an existing path wins, else a shipped name, else the path as given."""
    path = Path(blueprint)
    if path.exists() and not path.is_dir():
        return path
    return lookup(str(blueprint)) or path


def not_found_hint(blueprint: PathArg) -> str:
    """For an argument that is neither a file nor a shipped name: the list of shipped names, else ``""``."""
    text = str(blueprint)
    if not _looks_like_name(text) or lookup(text) is not None or Path(text).exists():
        return ""
    names = shipped_names()
    return f"; not a shipped blueprint either (shipped: {', '.join(names) or 'none installed'})"


def _unknown(name: str) -> InvalidInputError:
    return InvalidInputError(f"unknown blueprint {name!r}", hint=f"shipped: {', '.join(shipped_names()) or 'none'}")


@dataclass(frozen=True)
class Variable:
    """One ``${env:NAME}`` a blueprint reads; ``default`` is None when it has none."""

    name: str
    default: Optional[str] = None
    required: bool = False


@dataclass(frozen=True)
class Entry:
    """One shipped blueprint as ``blueprints`` lists it."""

    name: str
    file: Path
    description: str
    provider: str
    variables: Tuple[Variable, ...] = field(default_factory=tuple)

    @property
    def requires(self) -> List[str]:
        """Variables that must be set."""
        return [v.name for v in self.variables if v.required]

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready view."""
        return {"name": self.name, "file": str(self.file), "description": self.description,
                "provider": self.provider, "requires": self.requires,
                "reads": [{"name": v.name, "default": v.default, "required": v.required} for v in self.variables]}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def variables(data: Dict[str, Any]) -> Tuple[Variable, ...]:
    """Every variable ``data`` reads, in order of first use: ``requires_env`` and ``${env:...}`` references."""
    required = [n for n in data.get("requires_env") or [] if isinstance(n, str)]
    defaults: Dict[str, Optional[str]] = {}
    bare = set(required)  # read somewhere without a default
    for text in _strings({k: v for k, v in data.items() if k != "requires_env"}):
        for match in ENV_REF.finditer(text):
            name, default = match.group(1), match.group(2)
            if defaults.get(name) is None:
                defaults[name] = default
            if default is None:
                bare.add(name)
    order = list(dict.fromkeys(required + list(defaults)))
    return tuple(Variable(n, defaults.get(n), n in bare) for n in order)


def provider_of(name: str) -> str:
    """The provider a shipped blueprint talks to, from the first part of its name."""
    head = name.split("-", 1)[0]
    return PROVIDERS.get(head, head)


def describe(path: Path) -> Entry:
    """The catalog entry for the blueprint file at ``path``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data = data if isinstance(data, dict) else {}
    name = str(data.get("blueprint") or path.stem)
    return Entry(name, path, str(data.get("description", "")), provider_of(name), variables(data))


def entries() -> List[Entry]:
    """Every shipped blueprint, sorted by name."""
    return [describe(path) for path in shipped().values()]


def schema_file() -> Path:
    """The installed blueprint JSON Schema."""
    return Path(str(resources.files(PACKAGE) / "schema" / "blueprint.schema.json"))


def with_schema_comment(text: str) -> str:
    """``text`` whose first line points yaml-language-server at the installed schema (by absolute URI)."""
    line = f"{SCHEMA_COMMENT}{schema_file().resolve().as_uri()}"
    first, sep, rest = text.partition("\n")
    if first.startswith(SCHEMA_COMMENT):
        return f"{line}{sep}{rest}"
    return f"{line}\n{text}"


def init_copy(name: str, dest: Optional[PathArg] = None, force: bool = False) -> Path:
    """Write an editable copy of the shipped blueprint ``name`` to ``dest`` (default ``./NAME.yaml``; a
    directory gets ``NAME.yaml`` inside).  Raise :class:`InvalidInputError` for an unknown name or an
    existing file without ``force``."""
    source = lookup(name)
    if source is None:
        raise _unknown(name)
    target = Path(dest) if dest is not None else Path(f"{source.stem}.yaml")
    if target.is_dir():
        target = target / f"{source.stem}.yaml"
    if target.exists() and not force:
        raise InvalidInputError(f"{target} already exists", hint="pass --force to overwrite it")
    try:
        target.write_text(with_schema_comment(source.read_text(encoding="utf-8")), encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
