"""The dependency rules of DESIGN.md, enforced: a forbidden import fails this test.

Every import of every module counts, including those inside functions (our lazy imports
are imports all the same). Each rule names who may not import what; a violation is listed
with its file and line, so the fix is where the message points.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "liminal_jupyter"
FACES = ("liminal_jupyter.cli", "liminal_jupyter.cli_run", "liminal_jupyter.cli_compile",
         "liminal_jupyter.server", "liminal_jupyter.api", "liminal_jupyter.widgets")
ENGINE_PACKAGES = sorted(f"liminal_jupyter.engines.{p.name}" for p in
                         (PACKAGE / "engines").iterdir() if (p / "__init__.py").is_file())

# (rule, modules it binds, imports they may not make, modules exempt)
RULES = [
    ("the IR imports nothing of ours but diagnostics",
     ("liminal_jupyter.pipeline",), ("liminal_jupyter",),
     ("liminal_jupyter.diagnostics", "liminal_jupyter.pipeline")),
    ("notebook/ imports no engine, tracking or deploy",
     ("liminal_jupyter.notebook",),
     ("liminal_jupyter.engines", "liminal_jupyter.tracking", "liminal_jupyter.deploy"), ()),
    ("step/ imports no engine", ("liminal_jupyter.step",), ("liminal_jupyter.engines",), ()),
    ("runs/ imports no engine", ("liminal_jupyter.runs",), ("liminal_jupyter.engines",), ()),
    ("tracking/ imports nothing of deploy/ (policy decides elsewhere)",
     ("liminal_jupyter.tracking",), ("liminal_jupyter.deploy",), ()),
    ("only the faces (cli, server, api, widgets) import the engine registry",
     ("liminal_jupyter",), ("liminal_jupyter.engines.registry",),
     (*FACES, "liminal_jupyter.engines.registry")),
    *[(f"engines never import each other: {engine}",
       (engine,), tuple(e for e in ENGINE_PACKAGES if e != engine), ())
      for engine in ENGINE_PACKAGES],
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, node.lineno))
            # `from liminal_jupyter.engines import registry` imports the submodule
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(rule: tuple, sources: list[tuple[Path, str]]) -> list[str]:
    """Where `sources` ((file, module name) pairs) break `rule`: 'FILE:LINE imports X'."""
    _, bound, forbidden, exempt = rule
    found = []
    for path, source in sources:
        if not within(source, bound) or within(source, exempt):
            continue
        for target, line in imports_of(path, source):
            if within(target, forbidden) and not within(target, exempt):
                found.append(f"{source}:{line} imports {target}")
    return sorted(set(found))


SOURCES = [(path, module_name(path)) for path in sorted(PACKAGE.rglob("*.py"))]


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_dependency_rule(rule):
    broken = violations(rule, SOURCES)
    assert not broken, f"{rule[0]}:\n" + "\n".join(broken)


def test_a_forbidden_import_is_caught(tmp_path):
    """The checker itself: a step module that imports an engine is reported, with its line."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..engines.local import runner\n", encoding="utf-8")
    rule = next(r for r in RULES if r[0] == "step/ imports no engine")
    assert violations(rule, [(probe, "liminal_jupyter.step.probe")]) == [
        "liminal_jupyter.step.probe:2 imports liminal_jupyter.engines.local",
        "liminal_jupyter.step.probe:2 imports liminal_jupyter.engines.local.runner"]
    fine = next(r for r in RULES if r[0] == "runs/ imports no engine")
    assert violations(fine, [(probe, "liminal_jupyter.step.probe")]) == []


def test_every_engine_package_is_bound_by_a_rule():
    assert {"liminal_jupyter.engines.local", "liminal_jupyter.engines.kfp",
            "liminal_jupyter.engines.airflow"} <= set(ENGINE_PACKAGES)
