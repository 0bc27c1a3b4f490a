"""The bad-input corpus: every file in tests/data/bad fails with the message its first line names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import BlueprintError, MissingEnvError

CORPUS = sorted((Path(__file__).resolve().parents[1] / "data" / "bad").glob("*.yaml"))
SECRET = "sk-corpus-secret-1234"
ENV = {"DEEPSEEK_API_KEY": SECRET, "CORPUS_EMPTY": ""}
WHOLE_FILE_ERRORS = ("YAML syntax error", "file is empty", "top level must be a mapping")


def _expectations(path: Path) -> tuple:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: <fragment>'"
    line = re.search(r"^# expect-line: (\d+)$", text, re.M)
    return first[len("# expect: "):], int(line.group(1)) if line else None


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_blueprint(path: Path) -> None:
    fragment, line = _expectations(path)
    with pytest.raises(BlueprintError) as info:
        load_blueprint(path, env=ENV)
    err = info.value
    matching = [p for p in err.problems if fragment in p.message]
    assert matching, f"{fragment!r} not in {[p.message for p in err.problems]}"
    if line is not None:
        assert line in [p.line for p in matching]
    for problem in err.problems:
        assert problem.file == str(path)
        assert isinstance(problem.line, int) and problem.line >= 1, problem
    assert SECRET not in str(err)
    assert all(SECRET not in p.message and SECRET not in p.path for p in err.problems)
    if path.stem.startswith("env-") and "malformed" not in fragment:
        assert ".env.example" in str(err)
    if not path.stem.startswith("env-"):
        assert not isinstance(err, MissingEnvError)


@pytest.mark.parametrize("path", [p for p in CORPUS if p.stem.startswith("env-required")], ids=lambda p: p.stem)
def test_env_only_corpus_raises_missing_env_error(path: Path) -> None:
    with pytest.raises(MissingEnvError):
        load_blueprint(path, env=ENV)


def test_whole_file_errors_are_single_problems() -> None:
    for path in CORPUS:
        fragment, _ = _expectations(path)
        if any(marker in fragment for marker in WHOLE_FILE_ERRORS):
            with pytest.raises(BlueprintError) as info:
                load_blueprint(path, env=ENV)
            assert len(info.value.problems) == 1, path.name
