"""What one test case produced: passed, failed (where and why), or timed out.

Written by the child process that ran the case (`result.json` in the case's folder) and
read by the parent, the report, the JUnit writer and the pytest plugin: one shape for all.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
PASSED, FAILED, TIMEOUT = "passed", "failed", "timeout"


@dataclass
class Failure:
    """Where a case failed: the notebook's own cell (0-based index and id), and why."""

    message: str  # one paragraph, for a person
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)
    cell_index: int | None = None
    cell_id: str | None = None
    line: int | None = None
    step: str | None = None  # as pipeline: the step that failed

    def where(self) -> str:
        if self.cell_index is None:
            return ""
        # 1-based, as every message of ours counts cells (the JSON field stays 0-based).
        text = f"cell {self.cell_index + 1} (id {self.cell_id or '-'})"
        if self.line is not None:
            text += f", line {self.line}"
        return f"step '{self.step}', {text}" if self.step else text


@dataclass
class CaseResult:
    case_id: str
    notebook: str
    parameter_set: str
    parameters: dict[str, Any]
    mode: str
    status: str  # passed | failed | timeout
    duration: float = 0.0
    executed_notebook: str | None = None
    output_dir: str = ""
    log: str | None = None
    failure: Failure | None = None
    html: str | None = None  # the case's HTML page (`liminal-nb test --html DIR`)

    @property
    def ok(self) -> bool:
        return self.status == PASSED

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        failure = data.get("failure")
        return cls(**{**data, "failure": Failure(**failure) if failure else None})

    @classmethod
    def read(cls, folder: Path) -> CaseResult | None:
        try:
            return cls.from_json(json.loads((folder / RESULT_FILE).read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def describe(result: CaseResult) -> str:
    """A failed case as plain text: what the pytest plugin shows (the command uses rich)."""
    lines = [f"notebook {result.notebook}, parameter set '{result.parameter_set}' "
             f"({result.mode}) {result.status}"]
    if result.parameters:
        lines.append(f"parameters: {json.dumps(result.parameters)}")
    failure = result.failure
    if failure is not None:
        if failure.where():
            lines.append(f"at {failure.where()}")
        lines.append(failure.message)
        if failure.traceback:
            lines += ["", *failure.traceback]
    if result.executed_notebook:
        lines.append(f"executed notebook (kept): {result.executed_notebook}")
    if result.log:
        lines.append(f"log: {result.log}")
    return "\n".join(lines)
