"""The suite's layout (issue 19): shared helpers live in tests/fixtures/; no test module imports
another test module or a conftest.py (pytest loads those; importing them runs them twice)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def forbidden_imports(source: str) -> list[str]:
    """The modules `source` imports that are test modules (`tests.….test_*`) or conftests."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "tests" and any(
                p.startswith("test_") or p == "conftest" for p in parts[1:]
            ):
                found.append(name)
                break
    return found


def test_the_check_catches_a_test_module_and_a_conftest_import() -> None:
    assert forbidden_imports("from tests.api.test_cli import _run") == ["tests.api.test_cli"]
    assert forbidden_imports("from tests.api.conftest import bearer") == ["tests.api.conftest"]
    assert forbidden_imports("import tests.agent.test_masking") == ["tests.agent.test_masking"]
    assert forbidden_imports("from tests import conftest") == ["tests.conftest"]
    assert forbidden_imports("from tests.fixtures.credentials import bearer") == []


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := forbidden_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "import shared helpers from tests/fixtures/ instead"


def test_helpers_live_in_fixtures_not_beside_the_tests() -> None:
    """Every module under tests/ other than tests/fixtures/ is a test module, a conftest.py, a
    package marker, or a child-process script run by a test."""
    allowed = {"__init__.py", "conftest.py"}
    children = {"ingest/crash_child.py"}  # run with `python -m` by test_sync_crash
    stray = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if "fixtures" not in p.relative_to(TESTS).parts
        and not p.name.startswith("test_")
        and p.name not in allowed
        and str(p.relative_to(TESTS)) not in children
    ]
    assert stray == []
