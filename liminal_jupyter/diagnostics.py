"""Errors and warnings about a user's notebook, as data.

Every problem we report names the notebook, the cell (index and id) and the line, in one
paragraph, so the user can jump to it; the panel reads the same records as JSON. Problems
are collected, not raised one at a time, so a user sees all of a notebook's errors at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Location:
    """Where in the notebook a problem is: cell index is 0-based, line is 1-based."""

    notebook: str
    cell_index: int | None = None
    cell_id: str | None = None
    line: int | None = None
    cell_count: int | None = None

    def describe(self) -> str:
        parts = [self.notebook]
        if self.cell_index is not None:
            cell = f"cell {self.cell_index + 1}"
            if self.cell_count:
                cell += f" of {self.cell_count}"
            cell += f" (id {self.cell_id})" if self.cell_id else " (no id)"
            parts.append(cell)
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a notebook. `code` is stable (tests and tools match on it)."""

    severity: Severity
    code: str
    message: str
    location: Location
    step: str | None = None

    def render(self) -> str:
        where = self.location.describe()
        step = f" [step '{self.step}']" if self.step else ""
        return f"{self.severity}: {where}{step}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        loc = data.pop("location")
        loc.pop("cell_count", None)
        data.update(loc)
        return data


@dataclass
class Diagnostics:
    """A collector: parsing goes on after a problem, so all of them are reported together."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, location: Location, step: str | None = None) -> None:
        self.items.append(Diagnostic("error", code, message, location, step))

    def warning(
        self, code: str, message: str, location: Location, step: str | None = None
    ) -> None:
        self.items.append(Diagnostic("warning", code, message, location, step))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]


class NotebookError(Exception):
    """A notebook that cannot be read at all (missing, not JSON, wrong format, wrong kernel).

    Carries its diagnostics so the CLI and the server report it like any other problem.
    """

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.render() for d in diagnostics))

    @classmethod
    def single(cls, code: str, message: str, location: Location) -> NotebookError:
        return cls([Diagnostic("error", code, message, location)])
