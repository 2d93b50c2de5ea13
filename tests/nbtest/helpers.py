"""Shared by the notebook CI tests: run `liminal-nb test` as CI would, read its JUnit XML."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

LIMINAL_NB = Path(sys.executable).with_name("liminal-nb")
JUNIT_XSD = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))


def liminal_test(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`liminal-nb test ARGS` in a child process, with a wide terminal for the table."""
    return subprocess.run([str(LIMINAL_NB), "test", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**_env(), "COLUMNS": "200"})


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def junit_cases(path: Path) -> dict[str, ET.Element]:
    """{'<notebook>::<name>': testcase} after checking the report against the XSD."""
    JUNIT_XSD.validate(str(path))
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == int(root.get("tests"))
    failed = [c for c in cases if c.find("failure") is not None]
    errors = [c for c in cases if c.find("error") is not None]
    assert int(suite.get("failures")) == len(failed)
    assert int(suite.get("errors")) == len(errors)
    return {f"{Path(c.get('file')).name}::{c.get('name')}": c for c in cases}
