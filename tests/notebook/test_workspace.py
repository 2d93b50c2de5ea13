"""Workspace files: what each step's code names beside the notebook, found with no setting.

Each test writes a small project (a notebook, data/, a YAML config, a helper module) in a
temporary folder, as a user's checkout would look, and reads the pipeline's `files`.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, TEST_NOTEBOOKS, code, notebook_json
from jsonschema import Draft202012Validator

from liminal_jupyter.cli import main
from liminal_jupyter.notebook.parse import build_pipeline, parse_notebook
from liminal_jupyter.notebook.reader import parse_notebook_bytes, read_notebook
from liminal_jupyter.pipeline import Pipeline


def project(root: Path) -> Path:
    """data/train.csv, data/test.csv, data/notes.txt, config.yaml, helpers.py, pkg/."""
    root.mkdir(exist_ok=True)
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("x\n1\n2\n3\n")
    (root / "data" / "test.csv").write_text("x\n10\n")
    (root / "data" / "notes.txt").write_text("notes\n")
    (root / "config.yaml").write_text("scale: 2\n")
    (root / "helpers.py").write_text(
        "import tools\n\ndef column(text):\n    return [int(v) for v in text.split()[1:]]\n"
    )
    (root / "tools.py").write_text("def twice(x):\n    return 2 * x\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    return root


def files_of(pipeline: Pipeline) -> dict[str, list[str]]:
    return {step.name: step.files for step in pipeline.steps}


def warnings_of(pipeline: Pipeline, code_: str) -> list[tuple[int | None, str | None, int | None]]:
    return [(d.location.cell_index, d.location.cell_id, d.location.line)
            for d in pipeline.warnings if d.code == code_]


@pytest.fixture
def ws(tmp_path, parse):
    project(tmp_path)
    return parse


# -- what the analysis finds ----------------------------------------------------------------


def test_a_folder_variable_folds_through_plus_fstring_join_and_path(ws):
    pipeline = ws([
        code("import os\nfrom pathlib import Path", "imports"),
        code("folder = 'data/'", "step:setup"),
        code("train = open(folder + 'train.csv').read()", "step:plus"),
        code("test = open(f'{folder}test.csv').read()", "step:fstring"),
        code("notes = open(os.path.join(folder, 'notes.txt')).read()", "step:join"),
        code("more = (Path(folder) / 'train.csv').read_text()\n"
             "fmt = open('{}/test.csv'.format('data')).read()", "step:path"),
    ])
    assert pipeline.valid, pipeline.errors
    assert files_of(pipeline) == {
        "setup": [],  # binding a name to "data/" names no file: the code using it does
        "plus": ["data/train.csv"],
        "fstring": ["data/test.csv"],
        "join": ["data/notes.txt"],
        "path": ["data/test.csv", "data/train.csv"],
    }


def test_a_yaml_config_and_local_modules_are_found_with_what_they_import(ws):
    pipeline = ws([
        code("import yaml", "imports"),
        code("config = yaml.safe_load(open('config.yaml'))", "step:config"),
        code("import helpers\nvalues = helpers.column(open('data/train.csv').read())",
             "step:load"),
        code("from pkg import VALUE\ntotal = sum(values) * VALUE * config['scale']",
             "step:total"),
        code("again = helpers.column('x 1')", "step:again"),
    ])
    assert pipeline.valid, pipeline.errors
    assert files_of(pipeline) == {
        "config": ["config.yaml"],
        # helpers.py imports tools.py beside it: both travel with the step
        "load": ["data/train.csv", "helpers.py", "tools.py"],
        "total": ["pkg/"],
        # `helpers` is imported by step load; this step re-runs that import
        "again": ["helpers.py", "tools.py"],
    }


def test_what_the_prelude_names_belongs_to_every_step(ws):
    pipeline = ws([
        code("import helpers\nCONFIG = 'config.yaml'", "imports"),
        code("def load():\n    return open('data/notes.txt').read()", "functions"),
        code("a = 1", "step:one"),
        code("b = open(CONFIG).read()", "step:two"),
    ])
    assert files_of(pipeline) == {
        "one": ["data/notes.txt", "helpers.py", "tools.py"],
        "two": ["config.yaml", "data/notes.txt", "helpers.py", "tools.py"],
    }


def test_a_folder_named_alone_covers_its_content(ws):
    pipeline = ws([
        code("import os\nnames = os.listdir('data')\nfirst = open('data/train.csv').read()",
             "step:scan"),
    ])
    assert files_of(pipeline) == {"scan": ["data/"]}


def test_strings_that_name_nothing_here_are_not_files(ws, tmp_path):
    (tmp_path / "age").write_text("a file whose name is also a column")
    pipeline = ws([
        code("import os\n"
             "d = {'age': 1, 'config.yaml': 2}\n"  # dictionary keys are not paths
             "v = d['age']\n"  # nor subscripts
             "here = os.listdir('.')\n"  # the folder itself is not a workspace file
             "nb = open('nb.ipynb').read()\n"  # nor the notebook
             "missing = 'data/none.csv'\n"
             "url = 'https://example.org/data/train.csv'\n"
             "joined = '/'.join(['a', 'b'])\n"  # a separator: neither a path nor an escape
             "text = 'hello world'", "step:noise"),
    ])
    assert files_of(pipeline) == {"noise": []}
    assert pipeline.warnings == []


def test_files_a_step_writes_are_not_its_workspace_files(ws, tmp_path):
    for name in ("out.csv", "report.txt", "fig.png", "model.pkl", "log.txt", "new/"):
        (tmp_path / name.rstrip("/")).mkdir() if name.endswith("/") else \
            (tmp_path / name).write_text("from an earlier run")
    pipeline = ws([
        code("import os, io\nfrom pathlib import Path\nimport joblib\nimport pandas as pd\n"
             "import matplotlib.pyplot as plt", "imports"),
        code("df = pd.read_csv('data/train.csv')\n"
             "df.to_csv('out.csv')\n"
             "with open('report.txt', 'w') as f:\n    f.write('x')\n"
             "plt.savefig(fname='fig.png')\n"
             "joblib.dump(df, 'model.pkl')\n"
             "Path('log.txt').write_text('done')\n"
             "io.open('log.txt', mode='a').close()\n"
             "os.makedirs('new', exist_ok=True)\n"
             "Path('config.yaml').open('rb').read()\n"  # read: counts
             "Path('data/test.csv').open().read()", "step:work"),
    ])
    assert files_of(pipeline) == {"work": ["config.yaml", "data/test.csv", "data/train.csv"]}


def test_a_name_rebound_to_something_unknown_stops_folding(ws):
    pipeline = ws([
        code("import random\nfolder = 'data/'", "step:a"),
        code("folder = random.choice(['x/', 'y/'])\nt = open(folder + 'train.csv')", "step:b"),
    ])
    assert files_of(pipeline) == {"a": [], "b": []}


def test_parameter_defaults_fold_and_what_a_parameters_cell_reads_is_every_steps(ws):
    pipeline = ws([
        code("data_dir = 'data'\nscale = float(open('config.yaml').read().split()[1])",
             "parameters"),
        code("t = open(f'{data_dir}/train.csv').read()", "step:load"),
        code("u = 1", "step:other"),
    ])
    assert files_of(pipeline) == {"load": ["config.yaml", "data/train.csv"],
                                  "other": ["config.yaml"]}


# -- escapes ---------------------------------------------------------------------------------


def test_paths_outside_the_folder_warn_with_cell_and_line_and_are_never_listed(tmp_path, write_nb):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    root = project(tmp_path / "proj")
    os.symlink(outside, root / "link.txt")
    cells = [
        code("import os", "imports"),
        code("a = open('data/train.csv').read()\n"
             "b = open('../secret.txt').read()", "step:reads"),
        code("c = open('link.txt').read()\n"
             f"d = open({str(root / 'config.yaml')!r}).read()\n"
             "e = open('/dev/null').read()", "step:more"),
    ]
    notebook = root / "nb.ipynb"
    notebook.write_text(write_nb(cells).read_text())
    pipeline = parse_notebook(notebook)
    assert files_of(pipeline) == {"reads": ["data/train.csv"], "more": []}
    assert warnings_of(pipeline, "workspace-escape") == [(1, "c1", 2), (2, "c2", 1),
                                                          (2, "c2", 2)]
    messages = [d.message for d in pipeline.warnings]
    assert "'../secret.txt' is outside the notebook's folder" in messages[0]
    assert f"symlink to {outside}" in messages[1]
    assert "is an absolute path" in messages[2]
    assert [d.step for d in pipeline.warnings] == ["reads", "more", "more"]


# -- settings --------------------------------------------------------------------------------


def test_liminal_files_add_to_every_step_and_exclude_removes(ws, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.pkl").write_bytes(b"a")
    (tmp_path / "models" / "b.pkl").write_bytes(b"b")
    pipeline = ws(
        [code("x = open('data/train.csv').read()\ny = open('data/test.csv').read()",
              "step:one"),
         code("z = 1", "step:two")],
        {"liminal": {"files": ["models/*.pkl", "*.yaml", "nothing/*", "../*"],
                     "exclude": ["data/test.csv", "models/b*"]}},
    )
    assert pipeline.valid, pipeline.errors
    assert files_of(pipeline) == {
        "one": ["config.yaml", "data/train.csv", "models/a.pkl"],
        "two": ["config.yaml", "models/a.pkl"],
    }
    assert [(d.code, d.location.cell_index) for d in pipeline.warnings] == [
        ("workspace-files-unmatched", None), ("workspace-escape", None)]
    assert "'nothing/*' matches no file" in pipeline.warnings[0].message


def test_an_excluded_folder_removes_everything_in_it(ws):
    pipeline = ws([code("t = open('data/train.csv').read()\nc = open('config.yaml')",
                        "step:one")], {"liminal": {"exclude": ["data"]}})
    assert files_of(pipeline) == {"one": ["config.yaml"]}


@pytest.mark.parametrize("value", ["data/*", ["data/*", 3]])
def test_files_and_exclude_must_be_lists_of_strings(ws, value):
    for key in ("files", "exclude"):
        pipeline = ws([code("a = 1", "step:one")], {"liminal": {key: value}})
        assert [d.code for d in pipeline.errors] == ["bad-setting"], key


# -- the IR and inspect ----------------------------------------------------------------------


def test_files_round_trip_through_the_ir_and_match_its_schema(ws):
    pipeline = ws([code("t = open('data/train.csv').read()", "step:one")])
    data = pipeline.to_json()
    assert data["steps"][0]["files"] == ["data/train.csv"]
    schema = json.loads(importlib.resources.files("liminal_jupyter.schema")
                        .joinpath("pipeline.schema.json").read_text(encoding="utf-8"))
    assert list(Draft202012Validator(schema).iter_errors(data)) == []
    assert Pipeline.from_json(json.loads(json.dumps(data))).step("one").files == \
        ["data/train.csv"]
    older = json.loads(json.dumps(data))
    del older["steps"][0]["files"]  # written before the field existed
    assert Pipeline.from_json(older).step("one").files == []


def test_inspect_lists_each_steps_files_and_json_carries_them(tmp_path, write_nb, capsys):
    project(tmp_path)
    notebook = write_nb([
        code("import helpers\nfolder = 'data/'", "step:load"),
        code("t = open(folder + 'train.csv').read()", "step:read"),
        code("u = open('../x')", "step:none"),
    ])
    (tmp_path.parent / "x").touch()
    assert main(["inspect", str(notebook)]) == 0
    out = capsys.readouterr().out
    assert "       files:   helpers.py, tools.py\n" in out
    assert "       files:   data/train.csv\n" in out
    assert "line 1 [step 'none']: '../x' is outside the notebook's folder" in out
    assert main(["inspect", str(notebook), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["files"] for s in data["steps"]] == [["helpers.py", "tools.py"],
                                                   ["data/train.csv"], []]
    assert [w["code"] for w in data["warnings"]] == ["workspace-escape"]


def test_a_notebook_read_from_bytes_has_no_workspace(tmp_path, monkeypatch):
    project(tmp_path)
    monkeypatch.chdir(tmp_path)  # even where the files exist: bytes have no folder
    data = json.dumps(notebook_json([code("t = open('data/train.csv').read()", "step:one")]))
    pipeline = build_pipeline(parse_notebook_bytes(data.encode(), "nb.ipynb"))
    assert files_of(pipeline) == {"one": []}


# -- real notebooks nobody wrote for this ----------------------------------------------------


@pytest.mark.parametrize("notebook", sorted([*TEST_NOTEBOOKS.glob("*.ipynb"),
                                             *EXAMPLES.glob("*.ipynb")]), ids=lambda p: p.name)
def test_real_notebooks_name_only_real_workspace_files_and_stay_fast(notebook):
    raw = read_notebook(notebook)
    started = time.perf_counter()
    pipeline = build_pipeline(raw)
    with_workspace = time.perf_counter() - started
    for step in pipeline.steps:
        for path in step.files:
            assert (notebook.parent / path).exists(), (step.name, path)
            assert not path.startswith(("/", "../")), (step.name, path)
    assert [d for d in pipeline.warnings if d.code.startswith("workspace")] == []
    assert with_workspace < 1.0, f"{notebook.name}: analysis took {with_workspace:.2f} s"


def test_a_module_a_step_writes_with_writefile_is_a_file_edge_of_its_importers(tmp_path):
    """`%%writefile greet.py` in one step and `from greet import greet` in a later one:
    the importer waits for the writer (it ran beside it, in parallel, and failed with
    ModuleNotFoundError), and a step that re-runs the import needs the file too."""
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook_json([
        code("name = 'wörld'", "parameters"),
        code("%%writefile greet.py\ndef greet(n):\n    return f'hello {n}'", "step:write"),
        code("%%writefile -a log.txt\nstarted", "step:log"),
        code("from greet import greet\nmessage = greet(name)", "step:use"),
        code("again = greet(name) + message", "step:more"),
    ])))
    pipeline = parse_notebook(path)
    assert [(i.name, i.producer) for i in pipeline.step("use").file_inputs] == [
        ("greet.py", "write")]
    assert [(i.name, i.producer) for i in pipeline.step("more").file_inputs] == [
        ("greet.py", "write")]
    assert pipeline.step("write").writes == ["greet.py"]
    assert pipeline.step("log").writes == ["log.txt"]
    assert pipeline.order().index("write") < pipeline.order().index("use")
    from liminal_jupyter.describe import describe

    assert '  name  str    = "wörld"' in describe(pipeline)  # not "w\\u00f6rld"


def test_a_path_a_step_writes_and_a_later_step_reads_is_a_file_edge(tmp_path):
    """Even when a local run left report.csv beside the notebook, the reader gets it from
    the step that writes it (a 'file' input), not from the workspace; the IR says so and
    still validates against the schema."""
    root = project(tmp_path / "nb")
    (root / "report.csv").write_text("left by a local run\n")
    path = root / "nb.ipynb"
    path.write_text(json.dumps(notebook_json([
        code('import pandas as pd\nname = "report.csv"\n'
             'pd.read_csv("data/train.csv").to_csv(name, index=False)', "step:write"),
        code('from pathlib import Path\nPath("notes/summary.txt").write_text("x")',
             "step:note"),
        code('back = pd.read_csv(name)\nwith open("notes/summary.txt") as f:\n    text = f.read()',
             "step:read"),
    ])))
    pipeline = parse_notebook(path)
    read = pipeline.step("read")
    assert [(i.name, i.producer) for i in read.file_inputs] == [
        ("notes/summary.txt", "note"), ("report.csv", "write")]
    assert "report.csv" not in read.files and "report.csv" not in pipeline.step("write").files
    assert read.upstream == {"write", "note"}
    edges = {(e.source, e.target): (e.kind, e.files) for e in pipeline.edges}
    assert edges[("write", "read")] == ("data", ["report.csv"])  # `name` flows too
    assert edges[("note", "read")] == ("file", ["notes/summary.txt"])
    schema = json.loads(importlib.resources.files("liminal_jupyter.schema")
                        .joinpath("pipeline.schema.json").read_text(encoding="utf-8"))
    data = pipeline.to_json()
    assert list(Draft202012Validator(schema).iter_errors(data)) == []
    assert Pipeline.from_json(data).step("read").file_inputs == read.file_inputs
