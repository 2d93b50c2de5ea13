"""Test results as JUnit XML, the report format every CI system reads.

The shape is the common one (Ant/Jenkins, also written by pytest's --junitxml):
`<testsuites>` with one `<testsuite>` holding a `<testcase>` per notebook and parameter
set; a failed case carries `<failure message=... type=...>` with the traceback, a timed-out
one `<error type="Timeout">`, and `<system-out>` says where the executed notebook, the
log and the case's HTML page (--html) are. Written atomically, so a CI step never reads
half a report.
"""

from __future__ import annotations

import re
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from liminal_jupyter.atomic import atomic_write_text
from liminal_jupyter.nbtest.results import FAILED, TIMEOUT, CaseResult

SUITE = "liminal-nb test"
# XML 1.0 cannot hold most control characters, which tracebacks may contain.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def junit_xml(results: list[CaseResult], started: float | None = None) -> str:
    failures = sum(r.status == FAILED for r in results)
    errors = sum(r.status == TIMEOUT for r in results)
    took = f"{sum(r.duration for r in results):.3f}"
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": str(errors),
              "skipped": "0", "time": took}
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started or time.time()))
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts, "timestamp": stamp,
                                              "hostname": socket.gethostname()})
    for result in results:
        _testcase(suite, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _testcase(suite: ET.Element, result: CaseResult) -> None:
    name = result.parameter_set + (" as pipeline" if result.mode == "pipeline" else "")
    case = ET.SubElement(suite, "testcase", {
        "classname": _classname(result.notebook), "name": name,
        "file": result.notebook, "time": f"{result.duration:.3f}"})
    failure = result.failure
    if result.status in (FAILED, TIMEOUT) and failure is not None:
        tag = "failure" if result.status == FAILED else "error"
        kind = failure.ename or ("Timeout" if result.status == TIMEOUT else "Failure")
        element = ET.SubElement(case, tag, {"message": _clean(failure.message), "type": kind})
        body = [failure.message]
        if failure.where():
            body.append(f"at {failure.where()}")
        body += failure.traceback
        element.text = _clean("\n".join(body))
    out = [f"parameters: {result.parameters or 'defaults'}"]
    if result.executed_notebook:
        out.append(f"executed notebook: {result.executed_notebook}")
    if result.log:
        out.append(f"log: {result.log}")
    if result.html:
        # The second form is the attachment marker Jenkins' JUnit attachments plugin and
        # GitLab read from system-out.
        out += [f"html: {result.html}", f"[[ATTACHMENT|{result.html}]]"]
    ET.SubElement(case, "system-out").text = _clean("\n".join(out))


def _classname(notebook: str) -> str:
    """`example_notebooks/iris.ipynb` -> `example_notebooks.iris`, as CI tools group them."""
    path = Path(notebook).with_suffix("")
    return ".".join(p for p in path.parts if p not in ("/", "..", ".")) or notebook


def _clean(text: str) -> str:
    return _NOT_XML.sub("?", text)


def write_junit(path: str | Path, results: list[CaseResult], started: float | None = None
                ) -> None:
    atomic_write_text(path, junit_xml(results, started))
