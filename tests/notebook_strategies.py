"""Hypothesis strategies for notebooks a parser may meet: valid, odd and broken.

Shared by the quick, fixed-seed fuzz test (tests/notebook/test_fuzz.py) and the long run
(stress/fuzz_notebooks.py). A drawn example is the bytes of a .ipynb file: JSON that may be
a fine format-4 notebook, a format-3 or format-5 one, a notebook with every tag we know and
malformed variants of them, random Python with syntax errors, magics and shell lines, long
cells, deep nesting and unicode names, cell ids missing or duplicated, metadata of the
wrong type; or JSON that is not a notebook, or not JSON, or not UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# -- names, tags ----------------------------------------------------------------------------
NAMES = ["x", "y", "df", "model", "data", "raw", "n", "i", "_", "α", "ñame", "名前", "Ωmega",
         "print", "len", "test_size", "True_", "lambda_", "self", "__name__"]
STEP_NAMES = ["load", "clean", "train", "evaluate", "a", "b", "Step One", "ünï", "x" * 80,
              "fetch", "deploy", "-bad", "1st", "", "a:b", "a,b"]
KEYED = ["step", "block", "after", "prev", "model", "phase", "image", "cpu", "memory", "gpu",
         "retries", "timeout", "cache", "env", "secret", "limit", "annotation", "label"]
VALID_TAGS = ["parameters", "pipeline-parameters", "injected-parameters", "imports",
              "functions", "skip", "metrics", "pipeline-metrics", "step:load", "step:train",
              "block:clean", "after:load", "after:load,train", "prev:load", "model:model",
              "model:model=iris", "phase:train", "phase:evaluate", "image:python:3.11",
              "cpu:2", "cpu:500m", "memory:4Gi", "gpu:1", "retries:2", "timeout:30m",
              "timeout:1h2m3s", "cache:off", "cache:disabled", "env:K=V", "secret:s:key:ENV",
              "limit:nvidia.com/gpu:1", "limit:cpu:2", "annotation:a=b", "label:a=b",
              "hide-input", "remove-cell", "Step : Train", " STEP:load "]
ODD_VALUES = ["", " ", ":", "::", "-1", "0", "1e9", "99999999999999999999", "lots", "30x",
              "4Zi", "=", "K=", "=V", "a:b:c:d", "nvidia.com/gpu:-1", "on", "None", "ünï",
              "\u0000", "\n", "a" * 300, "1.5.2", "NaN", "inf", "1d1d", "m", "0.5m"]


def tags() -> st.SearchStrategy[str]:
    keyed = st.builds(lambda k, v: f"{k}:{v}", st.sampled_from(KEYED),
                      st.sampled_from(ODD_VALUES + STEP_NAMES) | st.text(max_size=20))
    spelled = st.builds(lambda k, sep, v: f"{k}{sep}{v}",
                        st.sampled_from([k.upper() for k in KEYED] + ["stpe", "paramters",
                                                                      "import", "metric"]),
                        st.sampled_from([":", " : ", "=", ""]), st.sampled_from(STEP_NAMES))
    return st.one_of(st.sampled_from(VALID_TAGS), keyed, spelled, st.text(max_size=30))


# -- Python ----------------------------------------------------------------------------------
def _statement(draw: st.DrawFn) -> str:
    a, b, c = (draw(st.sampled_from(NAMES)) for _ in range(3))
    templates = [
        f"{a} = {b} + 1", f"{a} = 3", f"{a} = '{b}'", f"{a} = [{b}, {c}]",
        f"{a}.append({b})", f"{a}[0] = {b}", f"{a}.attr = {b}", f"{a} += 1", f"del {a}",
        f"import {a}", "import os, sys", f"from {a} import *", f"from os import path as {a}",
        f"def {a}({b}):\n    return {b} + {c}", f"def {a}(*, {b}=1, **kw):\n    global {c}\n"
        f"    {c} = {b}", f"class {a.capitalize()}:\n    {b} = 1\n    def m(self):\n"
        f"        return {c}", f"print({a})", f"{a}", f"print({a}, {b})",
        f"for {a} in range(3):\n    {b} = {a}", f"with open('f') as {a}:\n    pass",
        f"{a} = [{b} for {b} in {c}]", f"({a} := 3)", f"{a} = lambda {b}: {b} + {c}",
        f"global {a}", f"nonlocal {a}", f"try:\n    {a} = 1\nexcept Exception as {b}:\n"
        f"    {c} = {b}", f"{a}: int = 5", f"{a}, *{b} = {c}", f"async def {a}():\n"
        f"    await {b}", f"await {a}", f"if {a}:\n    {b} = 1\nelse:\n    del {b}",
        f"match {a}:\n    case [{b}, *_]:\n        {c} = {b}\n    case _:\n        pass",
        f"%time {a} = {b}", f"%%time\n{a} = {b}", f"%%capture {a}\nprint({b})",
        f"%%bash\necho ${a}", f"!ls {{{a}}}", f"{a} = !ls", "%matplotlib inline",
        f"{a}?", f"%timeit -n 3 {a}", "%%writefile x.py\nprint(1)", f"%env K={a}",
        f"%%capture\n{a} = 1", f"!echo ${a} {{{b} + 1}}", "%%", "%", "!",
        "def (", "x = = 1", "if True:\nprint(1)", "'unclosed", "\t x = 1\n  y = 2",
        "return 1", "yield 1", "break", ")", "x = (", "f'{'", "b'é'", "0x", "1_",
        "@decorator\n", "λ = 1", "x = 1 if else 2", "print 'py2'", "exec('x = 1')",
        "globals()['x'] = 1", "locals().update(y=2)", "__import__('os')",
    ]
    return draw(st.sampled_from(templates))


@st.composite
def deep(draw: st.DrawFn) -> str:
    """Nesting that stresses a recursive walk: brackets, operator chains, blocks."""
    depth = draw(st.integers(1, 3000))
    kind = draw(st.sampled_from(["paren", "list", "binop", "call", "block", "lambda",
                                 "attr", "dict", "not"]))
    if kind == "paren":
        return "x = " + "(" * depth + "1" + ")" * depth
    if kind == "list":
        return "x = " + "[" * depth + "]" * depth
    if kind == "binop":
        return "x = " + " + ".join(["y"] * depth)
    if kind == "call":
        return "x = " + "f(" * depth + ")" * depth
    if kind == "block":
        depth = min(depth, 150)
        lines = [" " * i + f"if v{i}:" for i in range(depth)]
        return "\n".join(lines + [" " * depth + "z = 1"])
    if kind == "lambda":
        return "x = " + "lambda: " * depth + "1"
    if kind == "attr":
        return "x = y" + ".a" * depth
    if kind == "dict":
        return "x = " + "{'k': " * depth + "1" + "}" * depth
    return "x = " + "not " * depth + "y"


@st.composite
def python_source(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.text(max_size=200))
    if choice == 1:
        return draw(deep())
    if choice == 2:  # a long cell
        line = _statement(draw)
        return "\n".join([line] * draw(st.integers(50, 3000)))
    statements = [_statement(draw) for _ in range(draw(st.integers(0, 6)))]
    return "\n".join(statements)


# -- cells and notebooks -----------------------------------------------------------------------
@st.composite
def cell(draw: st.DrawFn, ids: list[str]) -> Any:
    kind = draw(st.sampled_from(["code"] * 6 + ["markdown"] * 2 + ["raw", "heading", "odd"]))
    if kind == "odd":  # not a cell object at all
        return draw(st.sampled_from([None, 1, "cell", [], [{"cell_type": "code"}]]))
    if kind == "markdown":
        source = draw(st.sampled_from(["# Load the data", "## Train ünïcode", "#", "# " * 200,
                                       "text", "# Step:x", ""]) | st.text(max_size=50))
    else:
        source = draw(python_source())
    shape = draw(st.integers(0, 9))
    if shape == 0:
        source = source.splitlines(keepends=True)
    elif shape == 1:
        source = draw(st.sampled_from([None, 3, ["a", 1, None], {"x": 1}]))
    cell_tags: Any = draw(st.lists(tags(), max_size=4))
    meta: Any = {"tags": cell_tags}
    odd = draw(st.integers(0, 14))
    if odd == 0:
        meta = {"tags": draw(st.sampled_from(["step:a", None, {"a": 1}, 5, [None, 3]]))}
    elif odd == 1:
        meta = draw(st.sampled_from([None, [], "x"]))
    out: dict[str, Any] = {"cell_type": "heading" if kind == "heading" else kind,
                           "source": source, "metadata": meta}
    if kind == "code":
        out.update(outputs=[], execution_count=None)
    id_choice = draw(st.integers(0, 5))
    if id_choice == 0:
        pass  # no id
    elif id_choice == 1 and ids:
        out["id"] = draw(st.sampled_from(ids))  # a duplicate
    elif id_choice == 2:
        out["id"] = draw(st.sampled_from([None, 7, "", "ü" * 70, "a b"]))
    else:
        new = f"c{len(ids)}"
        ids.append(new)
        out["id"] = new
    return out


def _settings() -> st.SearchStrategy[Any]:
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                      inner, max_size=3),
        max_leaves=6)
    keys = st.sampled_from(["name", "description", "experiment", "image", "requirements",
                            "kfp_host", "mlflow_uri", "tracking_uri", "schedule", "artifacts",
                            "steps_defaults", "volumes", "test", "thresholds",
                            "drift_threshold", "alias", "nmae", "files"]) | st.text(max_size=8)
    good = st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["iris", "Ünï pipeline", "", "a" * 300]),
        "steps_defaults": st.lists(tags(), max_size=3),
        "thresholds": st.dictionaries(st.sampled_from(["accuracy", "f1", "x"]),
                                      values, max_size=2),
        "volumes": st.lists(st.fixed_dictionaries({"pvc": st.text(max_size=5),
                                                    "mount_path": st.text(max_size=5)}),
                            max_size=2),
    })
    return good | st.dictionaries(keys, values, max_size=5) | values


def _metadata(draw: st.DrawFn) -> Any:
    kernelspec = draw(st.sampled_from([
        {"name": "python3", "display_name": "Python 3", "language": "python"},
        {"name": "python3", "display_name": "Python 3", "language": "python"},
        {"name": "ir", "language": "R"}, "python3", None, {"language": 3}, {"name": 3},
        {}, [], {"name": "", "language": "Python"},
    ]))
    meta: dict[str, Any] = {"kernelspec": kernelspec}
    if draw(st.booleans()):
        meta["language_info"] = draw(st.sampled_from([{"name": "python"}, {"name": None},
                                                      "python", {"name": "julia"}]))
    if draw(st.booleans()):
        meta["liminal"] = draw(_settings())
    if draw(st.integers(0, 5)) == 0:
        meta["kubeflow_notebook"] = draw(st.sampled_from([
            {"pipeline_name": "k", "experiment": {"name": "e"}, "steps_defaults": ["cpu:1"]},
            {"pipeline_name": 3, "docker_image": ["x"]}, "kale", {"experiment": "e"}]))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, [], "meta", 4]))
    return meta


@st.composite
def notebook_v4(draw: st.DrawFn) -> Any:
    ids: list[str] = []
    cells = draw(st.lists(cell(ids), max_size=12))
    nb: dict[str, Any] = {"nbformat": 4, "nbformat_minor": draw(st.sampled_from([0, 2, 4, 5])),
                          "metadata": _metadata(draw), "cells": cells}
    oddity = draw(st.integers(0, 11))
    if oddity == 0:
        nb["nbformat"] = draw(st.sampled_from([5, "4", 4.0, None, -1, True, 2**70, [4]]))
    elif oddity == 1:
        del nb["nbformat"]
    elif oddity == 2:
        nb["cells"] = draw(st.sampled_from([None, {}, "cells", 3]))
    elif oddity == 3:
        del nb["cells"]
    return nb


@st.composite
def notebook_v3(draw: st.DrawFn) -> Any:
    """The old worksheet format, which the reader upgrades with nbformat."""
    cells = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["code", "markdown", "heading"]))
        meta = {"tags": draw(st.lists(tags(), max_size=3))}
        if kind == "code":
            cells.append({"cell_type": "code", "input": draw(python_source()),
                          "language": "python", "outputs": [], "metadata": meta})
        else:
            cells.append({"cell_type": kind, "source": "# Title", "level": 1,
                          "metadata": meta})
    worksheets: Any = [{"cells": cells, "metadata": {}}]
    if draw(st.integers(0, 5)) == 0:
        worksheets = draw(st.sampled_from([None, [], {}, [{"cells": None}]]))
    return {"nbformat": draw(st.sampled_from([3, 3, 2, 1])), "nbformat_minor": 0,
            "metadata": {"name": "old"}, "worksheets": worksheets}


@st.composite
def notebook_bytes(draw: st.DrawFn) -> bytes:
    """The bytes of a .ipynb file, of any of the shapes above."""
    kind = draw(st.sampled_from(["v4"] * 8 + ["v3", "broken", "other-json", "junk"]))
    if kind == "other-json":
        value = draw(st.sampled_from([[], 4, "nb", None, {"cells": []}, {"nbformat": None}]))
        return json.dumps(value).encode()
    if kind == "junk":
        return draw(st.binary(max_size=200) | st.sampled_from(
            [b"", b"   ", b"\xef\xbb\xbf{}", b"\xff\xfe{", b"{" * 5000, b"[" * 100000]))
    nb = draw(notebook_v3() if kind == "v3" else notebook_v4())
    text = json.dumps(nb, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    if kind == "broken":
        cut = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["truncate", "flip", "bom", "latin1"]))
        if how == "truncate":
            return data[:cut]
        if how == "flip":
            return data[:cut] + bytes([draw(st.integers(0, 255))]) + data[cut + 1:]
        if how == "bom":
            return b"\xef\xbb\xbf" + data
        return text.encode("latin-1", "replace")
    return data


# -- the properties ----------------------------------------------------------------------------
def ir_of(path: Any) -> Any:
    """The pipeline IR as JSON text, or the diagnostics of a NotebookError; never a traceback.

    Also renders what `inspect` shows (the summary and the Mermaid graph) and checks that the
    IR survives a round trip through Pipeline.from_json.
    """
    from liminal_jupyter.describe import describe
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.mermaid import to_mermaid
    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.pipeline import Pipeline

    try:
        pipeline = parse_notebook(path)
    except NotebookError as exc:
        assert exc.diagnostics, "a NotebookError without a diagnostic"
        for diagnostic in exc.diagnostics:
            assert diagnostic.severity == "error" and diagnostic.render()
        return ["invalid", [d.to_json() for d in exc.diagnostics]]
    describe(pipeline)
    to_mermaid(pipeline)
    data = pipeline.to_json()
    text = json.dumps(data, sort_keys=True, default=str)
    again = json.dumps(Pipeline.from_json(json.loads(text)).to_json(), sort_keys=True,
                       default=str)
    assert again == text, "the IR changed through to_json/from_json"
    return ["pipeline", text]


def inspect_cli(*args: str) -> tuple[int, str, str]:
    """`liminal-nb inspect ARGS` in this process: (exit status, stdout, stderr)."""
    import contextlib
    import io

    from liminal_jupyter.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["inspect", *args])
    return status, out.getvalue(), err.getvalue()


def check_notebook(data: bytes, path: Any) -> None:
    """Every property of issue 20's parser fuzzing, for one file's bytes, written to `path`."""
    path.write_bytes(data)
    first = ir_of(path)
    assert ir_of(path) == first, "two reads of one notebook gave different IRs"
    status, out, err = inspect_cli(str(path))
    assert status in (0, 2), status
    if status == 2:
        assert "error:" in out + err, "exit 2 without a diagnostic"
    status, out, _ = inspect_cli(str(path), "--json")
    assert status in (0, 2), status
    shown = json.loads(out)
    assert shown["valid"] is (status == 0)
    status, _, _ = inspect_cli(str(path), "--graph")
    assert status in (0, 2), status
