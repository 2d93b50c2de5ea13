"""Which cells make which step, and how Kale-tagged notebooks come out."""

from conftest import TEST_NOTEBOOKS, code, codes, inputs_of, md

from liminal_jupyter.notebook.parse import parse_notebook


def test_a_notebook_with_no_tags_is_a_valid_one_step_pipeline(parse):
    p = parse([md("# Title"), code("import numpy as np"), code("v = np.ones(3)"),
               code("print(v.sum())")], name="My Analysis.ipynb")
    assert p.valid
    assert [s.name for s in p.steps] == ["my_analysis"]
    assert [c.index for c in p.steps[0].cells] == [1, 2, 3]
    assert p.name == "my-analysis"


def test_the_shipped_untagged_notebook_is_one_step():
    p = parse_notebook(TEST_NOTEBOOKS / "untagged.ipynb")
    assert p.valid and [s.name for s in p.steps] == ["untagged"]


def test_untagged_cells_join_the_step_above(parse):
    p = parse([code("a = 1", "step:one"), md("text"), code("b = a"), code("c = b", "step:two")])
    assert [[c.index for c in s.cells] for s in p.steps] == [[0, 2], [3]]


def test_untagged_cells_continue_imports_and_functions(parse):
    p = parse([
        code("import os", "imports"), code("import sys"),
        code("def f():\n    return 1", "functions"), code("def g():\n    return 2"),
        code("print(os, sys, f(), g())", "step:a"),
    ])
    assert [c.index for c in p.prelude] == [0, 1, 2, 3]
    assert p.valid


def test_untagged_cells_before_the_first_step_form_a_step_named_after_the_section(parse):
    p = parse([
        md("# Load the data"), code("raw = [1, 2]"),
        code("clean = [r for r in raw]", "step:clean"),
    ])
    assert [s.name for s in p.steps] == ["load_the_data", "clean"]
    assert inputs_of(p, "clean") == {"raw": "load_the_data"}


def test_loose_cells_with_no_heading_form_a_step_named_start(parse):
    p = parse([code("raw = 1"), code("x = raw", "step:a")])
    assert [s.name for s in p.steps] == ["start", "a"]


def test_papermill_parameters_is_one_cell(parse):
    p = parse([code("n = 1", "parameters"), code("m = n + 1"), code("print(m)", "step:a")])
    assert [prm.name for prm in p.parameters] == ["n"]
    assert [s.name for s in p.steps] == ["start", "a"]


def test_kale_pipeline_parameters_continue_like_kale(parse):
    p = parse([code("n = 1", "pipeline-parameters"), code("m = 2"), code("print(n, m)",
                                                                          "block:a")])
    assert [prm.name for prm in p.parameters] == ["n", "m"]


def test_skip_leaves_out_the_cell_and_the_next_untagged_cell_continues_before_it(parse):
    p = parse([code("a = 1", "step:one"), code("plot(a)", "skip"), code("b = a")])
    assert [c.index for c in p.steps[0].cells] == [0, 2]
    assert p.valid


def test_a_step_tag_repeated_right_after_its_step_continues_it(parse):
    p = parse([code("a = 1", "step:one"), code("b = a", "step:one")])
    assert len(p.steps) == 1 and p.valid


def test_a_step_name_reused_after_another_step_is_an_error(parse):
    p = parse([code("a = 1", "step:one"), code("b = a", "step:two"), code("c = b", "step:one")])
    assert "duplicate-step" in codes(p)
    error = next(e for e in p.errors if e.code == "duplicate-step")
    assert error.location.cell_index == 2
    assert "cell 1" in error.message


def test_a_cell_with_two_roles_is_an_error(parse):
    p = parse([code("import os", "imports", "step:a")])
    assert "conflicting-tags" in codes(p)


def test_after_adds_order_edges(parse):
    p = parse([code("a = 1", "step:one"), code("b = 2", "step:two", "after:one")])
    assert [(e.source, e.target, e.kind) for e in p.edges] == [("one", "two", "order")]


def test_after_naming_an_unknown_step_is_an_error_listing_the_steps(parse):
    p = parse([code("a = 1", "step:one"), code("b = 2", "step:two", "after:tree")])
    assert codes(p) == ["unknown-step"]
    assert "steps are one, two" in p.errors[0].message


def test_the_kale_notebook_has_kales_steps_and_edges_plus_the_data_edges():
    """Kale draws edges from prev: tags only; we draw those and every data edge."""
    p = parse_notebook(TEST_NOTEBOOKS / "kale_titanic_style.ipynb")
    assert p.valid, [d.render() for d in p.diagnostics]
    assert [s.name for s in p.steps] == ["load_data", "preprocess", "train_lr", "train_tree",
                                         "results"]
    kale_edges = {("load_data", "preprocess"), ("preprocess", "train_lr"),
                  ("preprocess", "train_tree"), ("train_lr", "results"),
                  ("train_tree", "results")}
    ours = {(e.source, e.target) for e in p.edges}
    assert kale_edges <= ours
    assert {s.name: s.after for s in p.steps}["results"] == ["train_lr", "train_tree"]
    assert [prm.name for prm in p.parameters] == ["TEST_SIZE", "SEED", "C", "TREE_DEPTH"]
    assert p.step("train_lr").options.gpu == 1
    assert p.step("train_tree").options.cache is False
    assert [m.name for m in p.step("train_lr").metrics] == ["lr_acc"]
    assert [m.name for m in p.step("train_tree").metrics] == ["tree_acc"]
    # The untagged cell after block:preprocess belongs to preprocess.
    assert len(p.step("preprocess").cells) == 2


def test_kale_misses_data_edges_that_we_find(parse):
    """Kale needs prev: for every dependency; a missing one is a data edge for us."""
    p = parse([
        code("a = 1", "block:one"),
        code("b = 2", "block:two", "prev:one"),
        code("print(a, b)", "block:three", "prev:two"),
    ])
    edges = {(e.source, e.target, e.kind) for e in p.edges}
    assert ("one", "three", "data") in edges
    assert ("one", "two", "order") in edges


def test_kale_notebook_metadata_is_used_when_ours_is_absent(parse):
    p = parse([code("a = 1", "block:one")],
              {"kubeflow_notebook": {"pipeline_name": "kale-pipe", "experiment_name": "exp",
                                     "docker_image": "img:1", "steps_defaults": ["limit:cpu:2"]}})
    assert p.name == "kale-pipe"
    assert p.settings["experiment"] == "exp" and p.settings["image"] == "img:1"
    assert p.step("one").options.cpu == "2"


def test_liminal_settings_are_read_and_checked(parse):
    p = parse([code("a = 1", "step:one")], {"liminal": {
        "name": "iris", "description": "d", "experiment": "e", "requirements": ["scikit-learn"],
        "kfp_host": "http://kfp", "tracking_uri": "sqlite:///m.db", "schedule": "@daily",
        "schedul": "x", "image": 3}})
    assert p.name == "iris" and p.description == "d"
    assert p.settings["mlflow_uri"] == "sqlite:///m.db"
    assert codes(p) == ["bad-setting"]
    assert "Did you mean 'schedule'?" in p.warnings[0].message


def test_a_notebook_of_only_markdown_and_empty_cells_is_refused(write_nb):
    import pytest

    from liminal_jupyter.diagnostics import NotebookError

    with pytest.raises(NotebookError) as info:
        parse_notebook(write_nb([md("# nothing"), code("   ")]))
    assert info.value.diagnostics[0].code == "no-code"


def test_a_reused_step_name_is_reported_once(parse):
    p = parse([code("a = 1", "step:one"), code("b = a", "step:two"), code("c = b", "step:one")])
    assert codes(p).count("duplicate-step") == 1


def test_a_notebook_whose_code_is_only_prelude_has_no_steps_and_is_invalid(parse):
    p = parse([code("import os", "imports"), code("x = 1", "step:a", "skip")])
    assert codes(p) == ["no-steps"]


def test_kale_settings_are_type_checked_like_ours(parse):
    p = parse([code("a = 1", "block:one")],
              {"kubeflow_notebook": {"docker_image": 5, "pipeline_name": ["x"],
                                     "steps_defaults": "cpu:1"}})
    assert codes(p) == ["bad-setting"] * 3
    assert p.name == "nb" and "image" not in p.settings
