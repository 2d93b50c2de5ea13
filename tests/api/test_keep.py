"""Every value a step defines is loadable after a run, within limits the user sets.

By default a run keeps what later steps read, models, metric variables and every value a
leaf step defines; `keep:all` (or `liminal.keep`) keeps every value a step defines;
`liminal.keep_max` caps each kept value, and `show` says what was not kept and why.
The run tests use real kernels through the real local runner, standard library and pandas.
"""

from __future__ import annotations

import json

import pytest
from conftest import code

from liminal_jupyter import Pipeline
from liminal_jupyter.cli import main

COUNT = [
    code("n = 3", "parameters"),
    code("import math\nrows = list(range(n))\nscratch = [r * 2 for r in rows]\n_tmp = 1\n"
         "def helper(x):\n    return x", "step:load"),
    code("import pandas as pd\ntotal = sum(rows)\nroot = math.sqrt(total)\n"
         "table = pd.DataFrame({'row': rows, 'twice': [r * 2 for r in rows]})\n"
         "big = 'x' * 20000", "step:add"),
    code("total", "metrics"),
]


def test_a_leaf_step_keeps_its_values_and_an_inner_one_only_what_is_read(parse):
    pipeline = parse(COUNT)

    assert pipeline.step("load").outputs == ["rows"] and pipeline.step("load").keep == []
    # No modules, functions or private names: code is re-created by the notebook.
    assert pipeline.step("add").keep == ["big", "root", "table", "total"]


def test_keep_all_on_a_step_or_the_notebook_keeps_every_value_it_defines(parse):
    tagged = [COUNT[0], {**COUNT[1], "metadata": {"tags": ["step:load", "keep:all"]}},
              *COUNT[2:]]
    assert parse(tagged).step("load").keep == ["scratch"]
    everywhere = parse(COUNT, {"liminal": {"keep": "all"}})
    assert everywhere.step("load").keep == ["scratch"]
    opted_out = [COUNT[0], {**COUNT[1], "metadata": {"tags": ["step:load", "keep:default"]}},
                 *COUNT[2:]]
    assert parse(opted_out, {"liminal": {"keep": "all"}}).step("load").keep == []
    ir = parse(tagged).to_json()
    assert ir["steps"][0]["options"]["keep"] == "all" and ir["steps"][0]["keep"] == ["scratch"]


def test_a_metric_variable_of_an_inner_step_is_kept(parse):
    pipeline = parse([code("acc = 0.9\nrows = [1]", "step:fit"),
                      code("n = len(rows)", "step:use"), code("acc", "metrics")])
    assert pipeline.step("fit").keep == ["acc"]


def test_bad_keep_tags_and_settings_are_errors_that_say_how_to_write_them(parse):
    bad_tag = parse([code("x = 1", "step:a", "keep:some")])
    assert any("keep:all" in d.message for d in bad_tag.errors)
    bad_cap = parse([code("x = 1", "step:a")], {"liminal": {"keep_max": "lots"}})
    assert any("keep_max" in d.message for d in bad_cap.errors)


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """One run of COUNT with keep:all on load and an 8 KB cap (module-wide: kernels cost)."""
    from conftest import notebook_json

    folder = tmp_path_factory.mktemp("keep")
    cells = [COUNT[0], {**COUNT[1], "metadata": {"tags": ["step:load", "keep:all"]}},
             *COUNT[2:]]
    path = folder / "nb.ipynb"
    path.write_text(json.dumps(notebook_json(cells, {"liminal": {"keep_max": "8KB"}})))
    return Pipeline.from_notebook(path).run(n=10, tracking=False)


def test_every_value_a_leaf_or_keep_all_step_defines_loads_after_the_run(kept_run):
    assert kept_run.status == "succeeded"
    assert kept_run.load("total") == 45
    assert kept_run.load("root") == pytest.approx(45 ** 0.5)
    assert kept_run.load("scratch") == [r * 2 for r in range(10)]
    assert list(kept_run.load("table")["twice"]) == [r * 2 for r in range(10)]
    with pytest.raises(KeyError, match="keep:all"):
        kept_run.load("big")


def test_show_notes_what_was_not_kept_and_why(kept_run, capsys):
    folder = str(kept_run.notebook.parent)
    assert main(["show", kept_run.run_id, "--dir", folder]) == 0
    out = capsys.readouterr().out
    assert "not kept: big (19.5 KiB saved, over keep_max" in out

    assert main(["show", kept_run.run_id, "big", "--dir", folder]) == 2
    assert "It was not kept (add: 19.5 KiB saved, over keep_max" in capsys.readouterr().err


def test_show_var_prints_type_shape_and_head(kept_run, capsys):
    folder = str(kept_run.notebook.parent)
    assert main(["show", kept_run.run_id, "table", "--dir", folder]) == 0
    out = capsys.readouterr().out
    assert "type:  pandas.DataFrame" in out and "shape: (10, 2)" in out
    assert "columns: row (int64), twice (int64)" in out
    assert "row  twice\n  0    0      0" in out and "  4    4      8" in out
    assert "  5    5" not in out  # the head: 5 rows
    assert main(["show", kept_run.run_id, "scratch", "--dir", folder]) == 0
    assert "len:   10\nhead:\n  [0, 2, 4, 6, 8, ...]" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.json"])
def test_show_export_writes_the_format_the_extension_names(kept_run, tmp_path, capsys, name):
    import pandas as pd

    target = tmp_path / name
    status = main(["show", kept_run.run_id, "table", "--dir", str(kept_run.notebook.parent),
                   "--export", str(target)])
    assert status == 0, capsys.readouterr().err
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet,
            ".json": lambda p: pd.DataFrame(json.loads(p.read_text()))}[target.suffix]
    assert read(target).to_dict("list") == {"row": list(range(10)),
                                            "twice": [r * 2 for r in range(10)]}


def test_show_export_refuses_an_unknown_extension(kept_run, tmp_path, capsys):
    status = main(["show", kept_run.run_id, "total", "--dir", str(kept_run.notebook.parent),
                   "--export", str(tmp_path / "t.xlsx")])
    assert status == 2 and "one of .csv, .parquet, .json" in capsys.readouterr().err
    assert not (tmp_path / "t.xlsx").exists()


def test_steps_are_listed_in_notebook_order_as_inspect_lists_them(write_nb):
    notebook = write_nb([code("a = 1", "step:first", "after:second"),
                         code("b = 2", "step:second")])
    pipeline = Pipeline.from_notebook(notebook)
    assert pipeline.ir.order() == ["second", "first"]
    assert list(pipeline.steps) == ["first", "second"]
