"""The pipeline DAG as Mermaid flowchart text (`liminal-nb inspect --graph`).

Mermaid renders in GitHub, GitLab and JupyterLab markdown, so the graph can be pasted into
a README or a notebook cell. Steps are grouped by phase; data edges carry their variables,
order-only edges (after:) are dotted.
"""

from __future__ import annotations

import re

from liminal_jupyter.notebook.tags import PHASES
from liminal_jupyter.pipeline import Pipeline


def to_mermaid(pipeline: Pipeline) -> str:
    lines = ["flowchart TD"]
    by_phase: dict[str | None, list[str]] = {}
    for step in pipeline.steps:
        by_phase.setdefault(step.phase, []).append(step.name)
    for phase in [*PHASES, None]:
        names = by_phase.get(phase)
        if not names:
            continue
        indent = "  "
        if phase is not None:
            lines.append(f"  subgraph phase_{phase}[{phase}]")
            indent = "    "
        lines += [f'{indent}{_id(name)}["{name}"]' for name in names]
        if phase is not None:
            lines.append("  end")
    for edge in pipeline.edges:
        if edge.kind in ("data", "file"):  # a file edge is labelled with its paths
            label = _label(", ".join([*edge.variables, *edge.files]))
            lines.append(f'  {_id(edge.source)} -->|"{label}"| {_id(edge.target)}')
        else:
            lines.append(f"  {_id(edge.source)} -.-> {_id(edge.target)}")
    return "\n".join(lines)


def _id(name: str) -> str:
    """Mermaid ids: letters, digits, underscore; prefixed so 'end' or 'graph' cannot clash."""
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _label(text: str) -> str:
    return text.replace('"', "#quot;")
