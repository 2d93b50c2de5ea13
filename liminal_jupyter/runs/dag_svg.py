"""A pipeline's DAG as an inline SVG, coloured by each step's state in a run.

A run report must open with no network, so no Mermaid or Graphviz in the browser: a small
layered layout done here. Steps go in rows by depth (the longest path from a source), and
each row is ordered by the mean position of its upstream steps in the rows above (two
sweeps of the barycenter heuristic), which untangles the fan-in and fan-out shapes of
notebook pipelines well enough. Each box links to the step's section of the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 176, 46, 28, 42, 12
MAX_LABEL = 22

# Fill and stroke per step state; the same meaning as the panel's colours.
STATE_COLOURS = {
    "succeeded": ("#e6f4ea", "#2e7d32"),
    "cached": ("#e3f2fd", "#1565c0"),
    "failed": ("#fdecea", "#c62828"),
    "running": ("#fff8e1", "#f9a825"),
    "interrupted": ("#fff3e0", "#ef6c00"),
    "skipped": ("#f5f5f5", "#9e9e9e"),
    "waiting": ("#ffffff", "#bdbdbd"),
}


@dataclass
class Node:
    """A step as drawn: its name, state, a short caption (its duration) and its link."""

    name: str
    state: str
    caption: str
    href: str


def layers(order: Sequence[str], upstream: Mapping[str, set[str]]) -> list[list[str]]:
    """Steps by depth, each row ordered to keep edges short (barycenter, two sweeps)."""
    depth: dict[str, int] = {}
    for name in order:
        ups = [depth[u] for u in upstream.get(name, ()) if u in depth]
        depth[name] = 1 + max(ups, default=-1)
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in order:
        rows[depth[name]].append(name)
    for _ in range(2):
        position = {name: i for row in rows for i, name in enumerate(row)}
        for row in rows[1:]:
            row.sort(key=lambda name, at=position: _barycenter(name, upstream, at))
            position.update({name: i for i, name in enumerate(row)})
    return rows


def _barycenter(name: str, upstream: Mapping[str, set[str]], position: dict[str, int]) -> float:
    ups = [position[u] for u in upstream.get(name, ()) if u in position]
    return sum(ups) / len(ups) if ups else position[name]


def dag_svg(nodes: Sequence[Node], upstream: Mapping[str, set[str]]) -> str:
    """The SVG element (no XML prolog) for `nodes`, in the order they run."""
    by_name = {n.name: n for n in nodes}
    rows = layers([n.name for n in nodes], upstream)
    widest = max((len(r) for r in rows), default=1)
    width = 2 * MARGIN + widest * BOX_W + (widest - 1) * GAP_X
    height = 2 * MARGIN + len(rows) * BOX_H + max(len(rows) - 1, 0) * GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        offset = (width - (len(row) * BOX_W + (len(row) - 1) * GAP_X)) / 2
        for i, name in enumerate(row):
            where[name] = (offset + i * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y))
    parts = [f'<svg class="liminal-dag" role="img" '
             f'aria-label="pipeline graph" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'width="{width:.0f}" height="{height:.0f}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M 0 0 L 10 5 L 0 10 z" fill="#90a4ae"/></marker></defs>']
    for name in by_name:
        for up in sorted(upstream.get(name, ())):
            if up in where:
                parts.append(_edge(where[up], where[name]))
    for name, node in by_name.items():
        parts.append(_box(node, *where[name]))
    parts.append("</svg>")
    return "\n".join(parts)


def _edge(start: tuple[float, float], end: tuple[float, float]) -> str:
    x1, y1 = start[0] + BOX_W / 2, start[1] + BOX_H
    x2, y2 = end[0] + BOX_W / 2, end[1]
    bend = (y2 - y1) / 2
    return (f'<path d="M {x1:.1f} {y1:.1f} C {x1:.1f} {y1 + bend:.1f}, {x2:.1f} '
            f'{y2 - bend:.1f}, {x2:.1f} {y2 - 2:.1f}" fill="none" stroke="#90a4ae" '
            f'stroke-width="1.5" marker-end="url(#arrow)"/>')


def _box(node: Node, x: float, y: float) -> str:
    fill, stroke = STATE_COLOURS.get(node.state, STATE_COLOURS["waiting"])
    label = node.name if len(node.name) <= MAX_LABEL else node.name[:MAX_LABEL - 1] + "…"
    caption = f"{node.state} · {node.caption}" if node.caption else node.state
    width = 3 if node.state == "failed" else 1.5
    return (
        f'<a href="{escape(node.href)}" class="liminal-dag-step" data-state="{escape(node.state)}">'
        f"<title>{escape(node.name)}: {escape(caption)}</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
        f'<text x="{x + BOX_W / 2:.1f}" y="{y + 19:.1f}" text-anchor="middle" '
        f'font-size="13" font-weight="600" fill="#212121">{escape(label)}</text>'
        f'<text x="{x + BOX_W / 2:.1f}" y="{y + 36:.1f}" text-anchor="middle" '
        f'font-size="11" fill="{stroke}">{escape(caption)}</text></a>'
    )
