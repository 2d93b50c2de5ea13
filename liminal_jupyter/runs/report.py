"""`liminal-nb report RUN`: one self-contained HTML page that tells the story of a run.

What a reviewer of a run wants on one page, readable with no Jupyter and no network: the
pipeline's DAG coloured by each step's state and duration (dag_svg.py), the parameters,
the metrics, the models the run registered, and every step's executed notebook, collapsed,
with a failed step open at its error. It reads only the runs ledger (the run store and
the run's folder), so it works for any engine that records its runs there.

Each step's notebook is its `executed.html` (step/html.py) when the run left one, else
rendered now; the lab stylesheet goes in once and each notebook's body after it, so a
50-step report stays a few hundred kilobytes. The page carries the same
Content-Security-Policy as a step page: no script runs and nothing is fetched.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.dag_svg import Node, dag_svg
from liminal_jupyter.runs.registered import read_registered_models
from liminal_jupyter.runs.store import RunRecord, RunStore, StepRecord

REPORT = "report.html"
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_report(store: RunStore, run_id: str,
               readable: Callable[[StepRecord], bool] | None = None) -> str:
    """The report of run `run_id` (an exact id) as one HTML document.

    readable: whether a step's recorded executed notebook may be read (the server checks
    that it lies inside its run's folder and the server's root); by default every one is.
    """
    run = store.get_run(run_id)
    steps = store.steps(run.run_id)
    run_dir = store.run_dir(run.run_id)
    pipeline = _pipeline(run_dir, run)
    order = [s.step for s in steps]
    upstream = {s.name: set(s.upstream) for s in pipeline.steps} if pipeline else {}
    anchors = {name: f"step-{i}-{_slug(name)}" for i, name in enumerate(order)}
    pages = _step_pages([r for r in steps if readable is None or readable(r)])
    styles = next((css for css, _ in pages.values() if css), "")
    nodes = [Node(r.step, r.status, _took(r), "#" + ("error-" if r.status == "failed" else "")
                  + anchors[r.step]) for r in steps]
    sections = [_step_section(r, anchors[r.step], pages.get(r.step)) for r in steps]
    body = "\n".join([
        _header(run),
        '<section><h2>Pipeline</h2><div class="dag">',
        dag_svg(nodes, upstream),
        "</div></section>",
        _parameters(run, pipeline),
        _metrics(steps),
        _models(read_registered_models(run_dir) or []),
        "<section><h2>Steps</h2>",
        *sections,
        "</section>",
    ])
    title = f"{run.pipeline_name}: run {run.run_id} ({run.status})"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{styles}\n<style>{_REPORT_CSS}</style>\n</head>\n"
        f'<body class="liminal-report">\n{body}\n</body>\n</html>\n'
    )


# -- reading the run -----------------------------------------------------------------------
def _pipeline(run_dir: Path, run: RunRecord) -> Any:
    """The run's pipeline IR: the copy in its folder, else the notebook read again."""
    from liminal_jupyter.pipeline import Pipeline

    try:
        return Pipeline.from_json(json.loads((run_dir / "pipeline.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        from liminal_jupyter.notebook.parse import parse_notebook

        return parse_notebook(run.notebook)
    except Exception as exc:  # the DAG then shows the steps without their edges
        print(f"warning: no pipeline for the DAG of run {run.run_id}: {exc}", file=sys.stderr)
        return None


def _step_pages(steps: list[StepRecord]) -> dict[str, tuple[str, str]]:
    """(styles, body) of each step's executed notebook, from its page or rendered now."""
    from liminal_jupyter.step.html import page_beside, render_html, split_page

    pages: dict[str, tuple[str, str]] = {}
    for record in steps:
        notebook = record.executed_notebook
        if not notebook or not Path(notebook).is_file():
            continue
        try:
            page = page_beside(notebook)
            text = Path(page).read_text(encoding="utf-8") if page else render_html(notebook)
        except Exception as exc:  # one unreadable notebook must not lose the report
            print(f"warning: step '{record.step}': its notebook {notebook} could not be "
                  f"shown: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        pages[record.step] = split_page(text)
    return pages


# -- sections ------------------------------------------------------------------------------
def _header(run: RunRecord) -> str:
    facts = [("status", run.status), ("backend", run.backend), ("notebook", run.notebook),
             ("started", _when(run.started)), ("took", _span(run.started, run.ended))]
    if run.tracking_run_id:
        facts.append(("MLflow run", run.tracking_run_id))
    if run.message:
        facts.append(("summary", run.message))
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    return (f'<header><h1>{escape(run.pipeline_name)} <span class="state state-'
            f'{escape(run.status)}">{escape(run.status)}</span></h1>'
            f"<p>run {escape(run.run_id)}</p><table class=\"facts\">{rows}</table></header>")


def _parameters(run: RunRecord, pipeline: Any) -> str:
    values = {p.name: (p.default, False) for p in (pipeline.parameters if pipeline else [])}
    values.update({k: (v, True) for k, v in run.parameters.items()})
    if not values:
        return "<section><h2>Parameters</h2><p>none</p></section>"
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td><code>{escape(json.dumps(value, default=str))}"
        f"</code></td><td>{'set for this run' if given else 'default'}</td></tr>"
        for name, (value, given) in values.items())
    return f"<section><h2>Parameters</h2><table>{rows}</table></section>"


def _metrics(steps: list[StepRecord]) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(_number(value))}</td>"
        f"<td>{escape(record.step)}</td></tr>"
        for record in steps for name, value in (record.metrics or {}).items())
    if not rows:
        return "<section><h2>Metrics</h2><p>none logged</p></section>"
    return ("<section><h2>Metrics</h2><table><tr><th>metric</th><th>value</th>"
            f"<th>step</th></tr>{rows}</table></section>")


def _models(models: list[dict[str, Any]]) -> str:
    if not models:
        return "<section><h2>Registered models</h2><p>none</p></section>"
    rows = "".join(
        f"<tr><th>{escape(str(m.get('name')))}</th><td>{escape(str(m.get('version')))}</td>"
        f"<td>{escape(', '.join(m.get('aliases') or []) or '-')}</td>"
        f"<td>{escape(str(m.get('variable')))} of {escape(str(m.get('step')))}</td>"
        f"<td>{escape(str(m.get('validation') or '-'))}</td></tr>" for m in models)
    return ("<section><h2>Registered models</h2><table><tr><th>name</th><th>version</th>"
            "<th>aliases</th><th>from</th><th>validation</th></tr>"
            f"{rows}</table></section>")


def _step_section(record: StepRecord, anchor: str, page: tuple[str, str] | None) -> str:
    failed = record.status == "failed"
    summary = (f'<summary><span class="name">{escape(record.step)}</span> <span class="state '
               f'state-{escape(record.status)}">{escape(record.status)}</span> '
               f'<span class="took">{escape(_took(record))}</span>'
               + (f" (from run {escape(record.cached_from_run)})"
                  if record.cached_from_run else "") + "</summary>")
    parts = [f'<details id="{anchor}" class="step"{" open" if failed else ""}>', summary]
    if record.error:
        parts.append(_error_box(record.error, anchor))
    if record.metrics:
        parts.append("<p>metrics: " + escape(", ".join(
            f"{k}={_number(v)}" for k, v in record.metrics.items())) + "</p>")
    if page is not None:
        parts.append(f'<div class="jp-Notebook notebook">{page[1]}</div>')
    elif record.status in ("skipped", "waiting"):
        parts.append(f"<p>not run ({escape(record.status)}).</p>")
    else:
        parts.append("<p>no executed notebook of this step is available.</p>")
    parts.append("</details>")
    return "\n".join(parts)


def _error_box(error: dict[str, Any], anchor: str) -> str:
    from liminal_jupyter.step.execute import StepError

    if "ename" in error:
        try:
            step_error = StepError.from_dict(error)
            message, trace = step_error.render(), step_error.traceback
        except (TypeError, KeyError):
            message, trace = json.dumps(error), []
    else:
        message, trace = str(error.get("message", error)), []
    text = _ANSI.sub("", "\n".join(trace))
    return (f'<div class="error" id="error-{anchor}"><p>{escape(message)}</p>'
            + (f"<pre>{escape(text)}</pre>" if text else "") + "</div>")


# -- formatting ----------------------------------------------------------------------------
def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _took(record: StepRecord) -> str:
    return _span(record.started, record.ended) if record.started else ""


def _span(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    return "running" if end is None else f"{end - start:.1f} s"


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


_REPORT_CSS = """
body.liminal-report { margin: 0 auto; max-width: 1100px; padding: 16px 24px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121;
  overflow: visible; height: auto; background: #fff; }
.liminal-report h1 { font-size: 1.6em; margin: 0.2em 0; }
.liminal-report h2 { font-size: 1.25em; margin: 1.2em 0 0.4em;
  border-bottom: 1px solid #e0e0e0; }
.liminal-report table { border-collapse: collapse; margin: 0.3em 0; }
.liminal-report th, .liminal-report td { text-align: left; padding: 3px 10px 3px 0;
  vertical-align: top; }
.liminal-report .dag { overflow: auto; max-height: 70vh; border: 1px solid #eceff1;
  border-radius: 6px; padding: 4px; }
.liminal-report .dag svg { display: block; margin: 0 auto; font-family: inherit; }
.liminal-report .state { font-size: 0.8em; padding: 1px 8px; border-radius: 10px;
  background: #eceff1; }
.liminal-report .state-succeeded { background: #e6f4ea; color: #2e7d32; }
.liminal-report .state-cached { background: #e3f2fd; color: #1565c0; }
.liminal-report .state-failed { background: #fdecea; color: #c62828; }
.liminal-report .state-skipped, .liminal-report .state-waiting { color: #757575; }
.liminal-report details.step { border: 1px solid #e0e0e0; border-radius: 6px;
  margin: 8px 0; padding: 4px 10px; }
.liminal-report details.step > summary { cursor: pointer; padding: 4px 0; }
.liminal-report details.step .name { font-weight: 600; }
.liminal-report details.step .took { color: #616161; }
.liminal-report .error { border-left: 4px solid #c62828; background: #fdecea;
  padding: 4px 12px; margin: 6px 0; }
.liminal-report .error pre { white-space: pre-wrap; font-size: 12px; }
.liminal-report .notebook { padding: 0; overflow: auto; }
"""
