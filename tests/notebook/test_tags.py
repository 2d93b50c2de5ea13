"""The tag language: every tag, every Kale alias, and what a malformed tag says."""

import pytest
from conftest import code, codes

from liminal_jupyter.notebook.tags import TagError, looks_like_ours, parse_duration, parse_tag


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("parameters", "parameters", None),
        ("pipeline-parameters", "parameters", None),
        ("injected-parameters", "parameters", None),
        ("imports", "imports", None),
        ("functions", "functions", None),
        ("skip", "skip", None),
        ("metrics", "metrics", None),
        ("pipeline-metrics", "metrics", None),
        ("step:train", "step", "train"),
        ("block:train", "step", "train"),
        ("Step : Train ", "step", "train"),
        ("STEP:load-data", "step", "load-data"),
        ("after:a,b", "after", ("a", "b")),
        ("after: A , B", "after", ("a", "b")),
        ("prev:a", "after", ("a",)),
        ("model:clf", "model", ("clf", None)),
        ("model:clf=iris-classifier", "model", ("clf", "iris-classifier")),
        ("phase:Evaluate", "phase", "evaluate"),
        ("image:python:3.11-slim", "option", ("image", "python:3.11-slim")),
        ("cpu:2", "option", ("cpu", "2")),
        ("cpu:500m", "option", ("cpu", "500m")),
        ("memory:4Gi", "option", ("memory", "4Gi")),
        ("gpu:1", "option", ("gpu", 1)),
        ("retries:3", "option", ("retries", 3)),
        ("timeout:30m", "option", ("timeout", 1800)),
        ("timeout:1h30m", "option", ("timeout", 5400)),
        ("cache:off", "option", ("cache", False)),
        ("cache:on", "option", ("cache", True)),
        ("cache:disabled", "option", ("cache", False)),
        ("cache:enabled", "option", ("cache", True)),
        ("env:OMP_NUM_THREADS=1", "option", ("env", ("OMP_NUM_THREADS", "1"))),
        ("secret:db:password:DB_PASS", "option", ("secret", ("db", "password", "DB_PASS"))),
        ("limit:nvidia.com/gpu:2", "option", ("gpu", 2)),
        ("limit:cpu:2", "option", ("cpu", "2")),
        ("limit:memory:1Gi", "option", ("memory", "1Gi")),
        ("limit:ephemeral-storage:1Gi", "option", ("limit", ("ephemeral-storage", "1Gi"))),
        ("annotation:team.io/owner:ml", "option", ("annotation", ("team.io/owner", "ml"))),
        ("label:tier:gold", "option", ("label", ("tier", "gold"))),
    ],
)
def test_every_tag_and_alias_parses(raw, kind, value):
    tag = parse_tag(raw)
    assert (tag.kind, tag.value) == (kind, value)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("step:", "has no step name"),
        ("step:9lives", "step name starts with a letter"),
        ("after:", "names no step"),
        ("phase:trian", "Did you mean phase:train?"),
        ("cpu:lots", "cpu takes a number"),
        ("memory:4GB", "memory takes a Kubernetes quantity"),
        ("gpu:-1", "gpu takes a whole number"),
        ("retries:two", "retries takes a whole number"),
        ("timeout:soon", "timeout takes a duration"),
        ("cache:maybe", "cache:off or cache:on"),
        ("env:1X=2", "env:NAME=VALUE"),
        ("secret:only-name", "secret:SECRET_NAME:KEY:ENV_VAR"),
        ("model:not a var", "model:VAR"),
        ("image:", "image:REF"),
        ("limit:cpu", "limit:RESOURCE:AMOUNT"),
    ],
)
def test_malformed_tags_of_ours_say_how_to_write_them(raw, says):
    with pytest.raises(TagError, match=None) as info:
        parse_tag(raw)
    assert says in str(info.value)


def test_tags_of_other_tools_are_not_ours_and_not_warned_about():
    assert parse_tag("hide-input") is None
    assert looks_like_ours("hide-input") is None
    assert looks_like_ours("raises-exception") is None
    assert looks_like_ours("my-own-tag") is None


def test_misspelled_tags_suggest_the_closest_of_ours():
    assert looks_like_ours("stepp:x") == "step:"
    assert looks_like_ours("paramters") == "parameters"
    assert looks_like_ours("afer:a") == "after:"
    assert looks_like_ours("import") == "imports"


def test_durations():
    assert parse_duration("90") == 90
    assert parse_duration("45s") == 45
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    assert parse_duration("soon") is None


def test_a_misspelled_tag_in_a_notebook_warns_with_the_cell(parse):
    p = parse([code("x = 1", "stepp:x")])
    assert p.valid
    warning = p.warnings[0]
    assert warning.code == "unknown-tag"
    assert "did you mean 'step:'" in warning.message
    assert warning.location.cell_index == 0


def test_a_malformed_tag_in_a_notebook_is_an_error_with_the_cell(parse):
    p = parse([code("x = 1", "step:a"), code("y = x", "step:b", "retries:many")])
    assert codes(p) == ["bad-tag"]
    assert p.errors[0].location.cell_id == "c1"


def test_step_options_reach_the_step(parse):
    p = parse([
        code("x = 1", "step:train", "image:repo/img:1", "cpu:2", "memory:4Gi", "gpu:1",
             "retries:2", "timeout:10m", "cache:off", "env:A=1", "secret:s:k:ENV_K",
             "label:team:ml", "annotation:note:hi"),
    ])
    options = p.step("train").options
    assert (options.image, options.cpu, options.memory, options.gpu) == ("repo/img:1", "2",
                                                                         "4Gi", 1)
    assert (options.retries, options.timeout, options.cache) == (2, 600, False)
    assert options.env == {"A": "1"}
    assert [(s.name, s.key, s.env) for s in options.secrets] == [("s", "k", "ENV_K")]
    assert options.labels == {"team": "ml"} and options.annotations == {"note": "hi"}


def test_kale_gpu_limit_keeps_the_resource_name(parse):
    p = parse([code("x = 1", "block:a", "limit:amd.com/gpu:2")])
    assert (p.step("a").options.gpu, p.step("a").options.gpu_resource) == (2, "amd.com/gpu")


def test_steps_defaults_in_metadata_apply_to_every_step_and_steps_override(parse):
    p = parse(
        [code("x = 1", "step:a"), code("y = x", "step:b", "cpu:4")],
        {"liminal": {"steps_defaults": ["cpu:1", "retries:2"]}},
    )
    assert (p.step("a").options.cpu, p.step("a").options.retries) == ("1", 2)
    assert (p.step("b").options.cpu, p.step("b").options.retries) == ("4", 2)


def test_phase_tag_and_implicit_phase_from_the_step_name(parse):
    p = parse([
        code("x = 1", "step:load", "phase:fetch"),
        code("y = x", "step:train"),
        code("z = y", "step:train_lr"),
        code("w = z", "step:report"),
    ])
    assert [s.phase for s in p.steps] == ["fetch", "train", "train", None]


def test_option_tags_outside_a_step_warn(parse):
    p = parse([code("import os", "imports", "cpu:2"), code("x = 1", "step:a")])
    assert codes(p, "warning") == ["tag-outside-step"]


def test_model_tag_names_the_producing_step_and_registry_name(parse):
    p = parse([
        code("clf = object()", "step:train"),
        code("score = 1", "step:evaluate", "model:clf=my-model"),
    ])
    assert p.step("train").models[0].variable == "clf"
    assert p.step("train").models[0].registered_name == "my-model"
    assert "clf" in p.step("train").outputs


def test_model_tag_naming_nothing_is_an_error(parse):
    p = parse([code("x = 1", "step:train", "model:clf")])
    assert codes(p) == ["model-undefined"]


def test_metrics_are_logged_by_the_step_that_defines_them(parse):
    p = parse([
        code("acc = 0.9", "step:a"),
        code("loss = 0.1", "step:b"),
        code("acc\nprint(loss)\ngap = acc - loss", "metrics"),
    ])
    assert [(m.name, m.expression) for m in p.step("a").metrics] == [("acc", "acc")]
    assert [(m.name, m.expression) for m in p.step("b").metrics] == [
        ("loss", "loss"), ("gap", "acc - loss")
    ]
    # b computes gap, so it now needs acc from a.
    assert any(i.name == "acc" and i.producer == "a" for i in p.step("b").inputs)


def test_a_metric_naming_nothing_a_step_defines_is_an_error(parse):
    p = parse([code("acc = 0.9", "step:a"), code("accuracy", "metrics")])
    assert codes(p) == ["metric-undefined"]
    assert p.errors[0].location.cell_index == 1


def test_a_metric_naming_parameters_is_logged_by_the_last_step_that_reads_them(parse):
    """Kale's `print(d1)` in a pipeline-metrics cell logs the parameter's value."""
    p = parse([
        code("d1 = 5\nd2 = 6\nunused = 1", "pipeline-parameters"),
        code("m = d1 * 2", "step:make"),
        code("total = m + d2", "step:sum"),
        code("after = total", "step:last"),
        code("print(d1)\nprint(d2)\nunused", "pipeline-metrics"),
    ])
    assert codes(p) == []
    assert [m.name for m in p.step("make").metrics] == ["d1"]
    # make and sum both read a parameter; each metric goes to the last reader of its own
    assert [m.name for m in p.step("sum").metrics] == ["d2"]
    # a parameter no step reads: the last step before the metrics cell logs it and reads it
    assert [m.name for m in p.step("last").metrics] == ["unused"]
    assert ("unused", "parameter") in [(i.name, i.kind) for i in p.step("last").inputs]


def test_a_metric_mixing_a_parameter_and_a_step_value_reads_both(parse):
    p = parse([
        code("scale = 2.0", "parameters"),
        code("acc = 0.9", "step:a"),
        code("scaled = acc * scale", "metrics"),
    ])
    assert codes(p) == []
    kinds = {(i.name, i.kind) for i in p.step("a").inputs}
    assert ("scale", "parameter") in kinds


def test_kales_sub_pipeline_reference_is_refused_with_the_cell(parse):
    """Kale 2.3's notebook:NAME composes another notebook; dropping it would lose work."""
    p = parse([code("a = 1", "step:one"), code("# the other notebook", "notebook:prep"),
               code("b = a", "step:two")])
    assert codes(p) == ["unsupported-tag"]
    assert p.errors[0].location.cell_index == 1 and "sub-pipeline" in p.errors[0].message


def test_kales_report_tag_is_accepted_quietly(parse):
    p = parse([code("a = 1", "step:one", "report:disabled"), code("b = a", "step:two")])
    assert codes(p) == [] and codes(p, "warning") == []


def test_an_empty_step_tag_continues_the_step_above_like_kale(parse):
    """Kale's titanic example tags cells `step:`; Kale treats them as untagged."""
    p = parse([code("df = [3, 1]", "step:load"), code("df.sort()", "step:"),
               code("n = len(df)", "step:count")])
    assert codes(p) == [] and codes(p, "warning") == ["empty-step-tag"]
    assert [c.index for c in p.step("load").cells] == [0, 1]
    assert p.warnings[0].location.cell_index == 1


def test_a_kale_composition_notebook_says_why_before_saying_it_has_no_code(write_nb):
    """Kale's examples/composition/main.ipynb: nothing but empty notebook: cells."""
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    nb = write_nb([code("", "notebook:notebook_a"), code("", "notebook:notebook_b")])
    with pytest.raises(NotebookError) as info:
        parse_notebook(nb)
    assert [d.code for d in info.value.diagnostics] == ["unsupported-tag"] * 2 + ["no-code"]
    assert [d.location.cell_index for d in info.value.diagnostics] == [0, 1, None]


def test_foreach_and_its_cap_parse_and_bad_values_are_refused():
    from liminal_jupyter.notebook.tags import TagError, parse_tag

    assert parse_tag("foreach: max_depth").kind == "foreach"
    assert parse_tag("foreach:max_depth").value == "max_depth"
    assert parse_tag("foreach-max:50").value == ("foreach_max", 50)
    for bad in ("foreach:", "foreach:max-depth", "foreach-max:0", "foreach-max:many"):
        with pytest.raises(TagError):
            parse_tag(bad)
