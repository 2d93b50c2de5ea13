"""Two dependency rules of DESIGN.md, read from the source (every import, lazy ones too):
the tracker records and never asks the deploy side for policy, and notebook reading knows
no engine, tracker or deployment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "liminal_jupyter"

RULES = {
    "tracking": ("liminal_jupyter.deploy",),
    "notebook": ("liminal_jupyter.engines", "liminal_jupyter.tracking",
                 "liminal_jupyter.deploy"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (absolute)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(package: str, forbidden: tuple[str, ...], root: Path = PACKAGE) -> list[str]:
    return [f"{path.relative_to(root.parent)} imports {module}"
            for path in sorted((root / package).rglob("*.py"))
            for module in sorted(imported_modules(path))
            if any(module == f or module.startswith(f + ".") for f in forbidden)]


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_keeps_to_its_dependency_rule(package):
    assert violations(package, RULES[package]) == []


def test_the_check_sees_a_lazy_forbidden_import(tmp_path):
    """The rule test fails on a violation: a function-level import of deploy in tracking."""
    fake = tmp_path / "liminal_jupyter"
    (fake / "tracking").mkdir(parents=True)
    (fake / "tracking" / "bad.py").write_text(
        "def f():\n    from liminal_jupyter.deploy.gate import decide\n    return decide\n")
    assert violations("tracking", RULES["tracking"], fake) == [
        "liminal_jupyter/tracking/bad.py imports liminal_jupyter.deploy.gate",
        "liminal_jupyter/tracking/bad.py imports liminal_jupyter.deploy.gate.decide"]
