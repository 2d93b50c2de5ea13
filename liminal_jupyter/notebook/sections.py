"""Cells into sections: parameters, prelude (imports, functions), steps, metrics, skipped.

The rules, in the order they apply to each code cell (markdown is never code):
- `skip` leaves the cell out; the cells after it continue what came before it (as Kale).
- A role tag (`step:NAME`, `imports`, `functions`, `parameters`, `metrics`) starts a section.
- An untagged cell continues the section above it: a step, imports, functions, metrics, or
  Kale's `pipeline-parameters` (papermill's `parameters` is one cell, as in papermill).
- An untagged cell with no section above it (or after papermill's `parameters` cell):
  in a notebook without `step:` tags it joins the notebook's one step, named after the
  notebook; otherwise it starts a step named after the markdown heading above it (or
  `start`), so no code is silently dropped (Kale drops it).
- A step name used again right after its own step continues it; used again after another
  step, it is an error. (Kale merges such cells, which reorders the notebook.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from liminal_jupyter.diagnostics import Diagnostics
from liminal_jupyter.notebook.reader import Cell, RawNotebook
from liminal_jupyter.notebook.tags import (
    ROLE_KINDS,
    Tag,
    TagError,
    empty_step,
    kale_sub_pipeline,
    looks_like_ours,
    parse_tag,
)


@dataclass
class StepDraft:
    name: str
    cells: list[Cell] = field(default_factory=list)
    tags: list[tuple[Tag, Cell]] = field(default_factory=list)


@dataclass
class Sections:
    parameters: list[Cell] = field(default_factory=list)
    prelude: list[tuple[Cell, str]] = field(default_factory=list)  # (cell, imports|functions)
    metrics: list[tuple[Cell, StepDraft | None]] = field(default_factory=list)
    steps: list[StepDraft] = field(default_factory=list)
    # Tags that belong to a step, found on cells that are not in one.
    stray_tags: list[tuple[Tag, Cell]] = field(default_factory=list)


def split_sections(nb: RawNotebook, diags: Diagnostics, steps_defaults: list[str] = ()) -> Sections:
    tagged = [(cell, _cell_tags(nb, cell, diags)) for cell in nb.cells if cell.cell_type == "code"]
    has_steps = any(t.kind == "step" for _, tags in tagged for t in tags)
    sections = Sections()
    current: str | None = None  # the section an untagged cell continues
    step: StepDraft | None = None
    heading = ""
    headings = _headings(nb)
    for cell, tags in tagged:
        heading = headings.get(cell.index, heading)
        roles = [t for t in tags if t.kind in ROLE_KINDS]
        if any(t.kind == "skip" for t in roles):
            continue
        role = _single_role(nb, cell, roles, diags)
        if role is None:
            if current in ("imports", "functions", "metrics", "kale-parameters") and has_steps:
                role_name = "parameters" if current == "kale-parameters" else current
                _add(sections, role_name, cell, step)
            elif current == "step" and step is not None:
                step.cells.append(cell)
            else:
                name = _loose_step_name(nb, heading, sections) if has_steps else _nb_step_name(nb)
                if not has_steps and sections.steps:
                    step = sections.steps[0]
                else:
                    step = StepDraft(name)
                    sections.steps.append(step)
                step.cells.append(cell)
                current = "step"
        elif role.kind == "step":
            if step is not None and current == "step" and step.name == role.value:
                step.cells.append(cell)
            else:
                if any(s.name == role.value for s in sections.steps):
                    first = next(s for s in sections.steps if s.name == role.value)
                    diags.error(
                        "duplicate-step",
                        f"step '{role.value}' was already defined at cell "
                        f"{first.cells[0].index + 1} and another step came in between. Give "
                        "this step its own name, or move the cells together (an untagged cell "
                        "continues the step above).",
                        nb.location(cell),
                        role.value,
                    )
                step = StepDraft(role.value)
                sections.steps.append(step)
                step.cells.append(cell)
            current = "step"
        else:
            _add(sections, role.kind, cell, step)
            current = "kale-parameters" if role.alias == "pipeline-parameters" else role.kind
        owner = step if current == "step" else None
        for tag in tags:
            if tag.kind not in ROLE_KINDS:
                (owner.tags if owner else sections.stray_tags).append((tag, cell))
    return sections


def _add(sections: Sections, role: str, cell: Cell, step: StepDraft | None) -> None:
    if role == "parameters":
        sections.parameters.append(cell)
    elif role in ("imports", "functions"):
        sections.prelude.append((cell, role))
    elif role == "metrics":
        sections.metrics.append((cell, step))


def _cell_tags(nb: RawNotebook, cell: Cell, diags: Diagnostics) -> list[Tag]:
    tags: list[Tag] = []
    for raw in cell.tags:
        if empty_step(raw):
            diags.warning(
                "empty-step-tag",
                f"tag '{raw}' names no step, so the cell continues the section above as an "
                "untagged cell does (Kale's own examples tag such cells 'step:'). Write "
                "step:NAME to start a step.",
                nb.location(cell),
            )
            continue
        try:
            tag = parse_tag(raw)
        except TagError as exc:
            diags.error("bad-tag", str(exc), nb.location(cell))
            continue
        if tag is not None:
            tags.append(tag)
            continue
        if kale_sub_pipeline(raw):
            diags.error(
                "unsupported-tag",
                f"tag '{raw}' makes this cell a reference to another notebook, which Kale 2.3 "
                "compiles as a sub-pipeline; liminal-jupyter does not compose notebooks, and "
                "leaving the reference out would run the pipeline without that work. Copy the "
                "other notebook's steps into this one (or run it as its own pipeline) and "
                "remove the tag.",
                nb.location(cell),
            )
            continue
        meant = looks_like_ours(raw)
        if meant:
            diags.warning(
                "unknown-tag",
                f"tag '{raw}' is not part of the tag language and is ignored; did you mean "
                f"'{meant}'?",
                nb.location(cell),
            )
    return tags


def _single_role(nb: RawNotebook, cell: Cell, roles: list[Tag], diags: Diagnostics) -> Tag | None:
    distinct = {(t.kind, t.value) for t in roles}
    if len(distinct) > 1:
        names = ", ".join(t.raw for t in roles)
        diags.error(
            "conflicting-tags",
            f"the cell has more than one role ({names}); a cell is one of: a step, imports, "
            f"functions, parameters, metrics. The first, '{roles[0].raw}', is used.",
            nb.location(cell),
        )
    return roles[0] if roles else None


def _headings(nb: RawNotebook) -> dict[int, str]:
    """For each code cell index, the text of the latest markdown heading above it."""
    found: dict[int, str] = {}
    latest = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    latest = line.strip().lstrip("#").strip()
        elif cell.cell_type == "code":
            found[cell.index] = latest
    return found


def slug(text: str) -> str:
    """A step name from free text: lower case, words joined by '_', starting with a letter."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    name = "_".join(words)[:40].strip("_")
    if name and name[0].isdigit():
        name = "s_" + name
    return name


def _loose_step_name(nb: RawNotebook, heading: str, sections: Sections) -> str:
    base = slug(heading) or "start"
    taken = {s.name for s in sections.steps}
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _nb_step_name(nb: RawNotebook) -> str:
    stem = nb.path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".ipynb")
    return slug(stem) or "notebook"
