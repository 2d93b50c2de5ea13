"""An executed notebook as one standalone HTML file, for people who do not open Jupyter.

A run's reader (in the KFP UI, an Airflow task, a CI job, a run report) gets a page that
opens anywhere, offline, and runs nothing: nbconvert's `HTMLExporter` with the `lab`
look, through our template `liminal_lab` (templates/), which

- sanitizes HTML and Markdown from outputs and cells (nbconvert's `sanitize_html`, with
  its bleach filter given the tags a document needs: headings, paragraphs, tables for
  DataFrames, images), so a `<script>` or an `onerror=` printed by a step does not
  survive;
- drops the CDN scripts of the `lab` template (require.js, MathJax, Mermaid, the widget
  manager) and never copies JavaScript or widget state from outputs into the page;
- embeds images (outputs are data URIs already; `embed_images` inlines Markdown ones);
- sets a Content-Security-Policy that forbids every script and every remote load, so
  whatever a sanitizer might miss still neither runs nor calls out.

nbconvert (and its Jinja, bleach and pygments) is imported here only, when a page is
rendered: it costs a few hundred milliseconds, and the CLI's fast paths never pay it.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from liminal_jupyter.atomic import atomic_write_text

EXECUTED_HTML = "executed.html"
TEMPLATE = "liminal_lab"
TEMPLATES = Path(__file__).with_name("templates")

_exporter_lock = threading.Lock()
_exporter: Any = None


def render_html(notebook: dict[str, Any] | str | Path, title: str | None = None) -> str:
    """The notebook (a path or its JSON as a dict) as one standalone, inert HTML page."""
    import nbformat

    if isinstance(notebook, str | Path):
        node = nbformat.reads(Path(notebook).read_text(encoding="utf-8"), as_version=4)
        title = title or Path(notebook).stem
    else:
        node = nbformat.from_dict(json.loads(json.dumps(notebook)))
    resources = {"metadata": {"name": title or "notebook"}}
    with _exporter_lock:  # one exporter: its Jinja environment is costly to build
        body, _ = _html_exporter().from_notebook_node(node, resources=resources)
    return body


def write_html(notebook: str | Path, target: str | Path | None = None,
               title: str | None = None) -> Path:
    """Render `notebook` to `target` (by default executed.html beside it), atomically."""
    source = Path(notebook)
    out = Path(target) if target is not None else source.with_name(EXECUTED_HTML)
    atomic_write_text(out, render_html(source, title))
    return out


def render_step_page(executed_notebook: str | Path, target: str | Path) -> Path | None:
    """The page of a step that ended, for an engine that keeps it as an artifact (a KFP
    HTML output, an Airflow task's folder). The page is a view of the step: a notebook
    that cannot be rendered is reported on stderr (the task's log) and the step's outcome
    stands. None when nothing was written."""
    source = Path(executed_notebook)
    if not source.is_file():
        print(f"warning: no HTML page for the step: {source} does not exist", file=sys.stderr)
        return None
    try:
        return write_html(source, target)
    except Exception as exc:
        print(f"warning: no HTML page for {source}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None


def page_beside(executed_notebook: str | None) -> str | None:
    """The HTML page rendered beside an executed notebook, if there is one."""
    if not executed_notebook:
        return None
    page = Path(executed_notebook).with_name(EXECUTED_HTML)
    return str(page) if page.is_file() else None


def split_page(page: str) -> tuple[str, str]:
    """(the page's `<style>` elements, its notebook body) of a page `render_html` wrote.

    A run report shows many notebooks in one file: it keeps the lab stylesheet once and
    each notebook's body. The markers are our template's own `<main>` and `</main>`;
    text in a notebook cannot forge them, since sanitizing escapes tags it does not allow.
    """
    head_end = page.find("</head>")
    head = page[:head_end] if head_end >= 0 else ""
    styles = []
    at = 0
    while (start := head.find("<style", at)) >= 0:
        end = head.find("</style>", start)
        if end < 0:
            break
        styles.append(head[start:end + len("</style>")])
        at = end
    start = page.find("<main>", max(head_end, 0))
    end = page.rfind("</main>")
    body = page[start + len("<main>"):end] if 0 <= start < end else ""
    return "\n".join(styles), body


def _html_exporter() -> Any:
    global _exporter
    if _exporter is None:
        _exporter = _exporter_class()(
            template_name=TEMPLATE,
            extra_template_basedirs=[str(TEMPLATES)],
            sanitize_html=True,
            embed_images=True,
            exclude_anchor_links=True,
            filters={"clean_html": _clean_html},
        )
    return _exporter


def _exporter_class() -> type:
    """nbconvert's HTMLExporter without its last pass, which parses the whole page again
    with BeautifulSoup to add `alt` and `tabindex` attributes: two thirds of the time of
    a step page, for a page nobody tabs through. The filters it registers are registered
    the same way (nbconvert 7's HTMLExporter.from_notebook_node, up to its template run)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class PageExporter(HTMLExporter):
        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            info = nb.metadata.get("language_info", {})
            lexer = info.get("pygments_lexer", info.get("name", None))
            self.register_filter("highlight_code", Highlight2HTML(pygments_lexer=lexer,
                                                                  parent=self))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return PageExporter


# nbconvert's own `clean_html` allows bleach's dozen inline tags, which shows a Markdown
# heading or a DataFrame as escaped tags; these are the tags of a readable document.
_TAGS = frozenset({
    "a", "abbr", "acronym", "b", "blockquote", "br", "caption", "code", "col", "colgroup",
    "dd", "del", "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q",
    "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
_ATTRIBUTES = {
    "*": ["class", "id", "title", "style", "align"],
    "a": ["href"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan"],
    "table": ["border"],
    "ol": ["start"],
}
_css_sanitizer: Any = None


def _clean_html(element: Any) -> str:
    """Allow-list sanitizing of HTML (bleach, as nbconvert does), with document tags."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    global _css_sanitizer
    if _css_sanitizer is None:
        _css_sanitizer = CSSSanitizer()
    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=_TAGS, attributes=_ATTRIBUTES,
                        protocols={"http", "https", "mailto", "data"},
                        css_sanitizer=_css_sanitizer, strip_comments=True)


def _warm_up() -> None:
    """Render a small notebook once, unwritten: the first page of a process pays for the
    Jinja templates, the Markdown parser's regular expressions and the notebook validator
    (about 0.3 s on top of the imports), and the page that matters should not."""
    import nbformat
    from nbformat import v4

    output = v4.new_output("execute_result", {"text/plain": "1", "text/html": "<b>1</b>"},
                           execution_count=1)
    node = v4.new_notebook(cells=[v4.new_markdown_cell("# step\n\n*text*"),
                                  v4.new_code_cell("x = 1\nx", outputs=[output],
                                                   execution_count=1)])
    node.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    try:
        render_html(nbformat.from_dict(node), "warm-up")
    except Exception:  # the pages that matter report their own failures
        pass


def _request(line: str) -> tuple[str, Path | None]:
    """(notebook, page) of one line of the renderer's input; ("", None) for a blank one."""
    text = line.strip()
    if text.startswith("["):
        source, target = json.loads(text)
        return source, Path(target)
    return text, Path(text).with_name(EXECUTED_HTML) if text else None


def main(argv: list[str] | None = None) -> int:
    """`python -m liminal_jupyter.step.html [--nice N]`: render executed.html beside each
    executed notebook named on stdin, one path a line (or a JSON array [notebook, page]
    for a page elsewhere), until the end of input (step/pages.py's renderer). Failures are
    reported on stderr."""
    import argparse
    import os

    from liminal_jupyter.startup import skip_slow_optional_imports

    skip_slow_optional_imports()

    parser = argparse.ArgumentParser(prog="python -m liminal_jupyter.step.html",
                                     description=main.__doc__)
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    try:
        _warm_up()  # the imports and templates, while the first step runs
        for line in sys.stdin:
            source, target = _request(line)
            if source:
                render_step_page(source, target)
    except KeyboardInterrupt:  # Ctrl-C reaches the runner's whole process group
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
