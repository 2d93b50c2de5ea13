"""Values set from outside (`-p NAME=VALUE`, `--params-file`): typed by the declared type.

No kernels: these exercise `liminal_jupyter.params` on a pipeline parsed from a small
notebook whose parameters cell declares one parameter of each kind.
"""

import math

import pytest
from conftest import code

from liminal_jupyter.params import (
    ParameterError,
    check,
    effective,
    parse_assignments,
    read_params_file,
    resolve,
)

PARAMETERS = (
    "n_estimators: int = 100  # trees, range: 1..500\n"
    "rate = 0.5  # learning rate, range: 0..1\n"
    "name = 'iris'\n"
    "verbose = False\n"
    "layers = [16, 8]\n"
    "config = {'depth': 3}\n"
    "extra = None\n"
    "seed: int | None = None\n"
    "label: str | None = None\n"
    "model: Literal['rf', 'svm'] = 'rf'\n"
    "mode: Literal[0, 1, 'auto'] | None = None\n"
)


@pytest.fixture
def pipeline(parse):
    p = parse([code(PARAMETERS, "parameters"),
               code("print(n_estimators, rate, name, verbose, layers, config, extra, seed, "
                    "label, model, mode)", "step:train")])
    assert p.valid, p.diagnostics
    return p


def cli(pipeline, *pairs):
    return resolve(pipeline, None, parse_assignments(list(pairs)))


def error_of(call, *args) -> str:
    with pytest.raises(ParameterError) as info:
        call(*args)
    return str(info.value)


def test_the_notebook_declares_what_the_tests_assume(pipeline):
    kinds = {p.name: (p.type, p.nullable) for p in pipeline.parameters}
    assert kinds == {
        "n_estimators": ("int", False), "rate": ("float", False), "name": ("str", False),
        "verbose": ("bool", False), "layers": ("list", False), "config": ("dict", False),
        "extra": ("any", True), "seed": ("int", True), "label": ("str", True),
        "model": ("str", False), "mode": ("any", True),
    }


# -- parse_assignments -------------------------------------------------------------------
def test_assignments_split_at_the_first_equals_sign():
    assert parse_assignments(["a=1", "b=x=y", "c=", " d =2"]) == {
        "a": "1", "b": "x=y", "c": "", "d": "2"}


def test_the_last_assignment_of_a_name_wins():
    assert parse_assignments(["a=1", "a=2"]) == {"a": "2"}


@pytest.mark.parametrize("pair", ["n_estimators", "=5", " =5", ""])
def test_an_assignment_without_a_name_or_equals_sign_says_how_to_write_it(pair):
    message = error_of(parse_assignments, [pair])
    assert repr(pair) in message and "NAME=VALUE" in message


# -- typing command-line text ------------------------------------------------------------
def test_text_is_typed_by_the_declared_type(pipeline):
    values = cli(pipeline, "n_estimators=5", "rate=1", "name=5", "verbose=true",
                 "layers=[1, 2, 3]", 'config={"depth": 5, "path": "a=b"}', "seed=7",
                 "label=x", "model=svm")
    assert values == {"n_estimators": 5, "rate": 1.0, "name": "5", "verbose": True,
                      "layers": [1, 2, 3], "config": {"depth": 5, "path": "a=b"}, "seed": 7,
                      "label": "x", "model": "svm"}
    assert type(values["n_estimators"]) is int and type(values["rate"]) is float
    assert type(values["name"]) is str


def test_only_values_set_are_returned(pipeline):
    assert resolve(pipeline) == {}
    assert cli(pipeline, "rate=0.1") == {"rate": 0.1}


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("yes", True), ("1", True), ("on", True),
    ("false", False), ("FALSE", False), ("no", False), ("0", False), ("off", False),
])
def test_booleans_from_text(pipeline, text, expected):
    assert cli(pipeline, f"verbose={text}")["verbose"] is expected


def test_a_string_parameter_keeps_the_text_as_written(pipeline):
    for text in ("5", "true", "[1]", "null", "", "a=b"):
        assert cli(pipeline, f"name={text}") == {"name": text}


def test_none_for_nullable_parameters_only(pipeline):
    assert cli(pipeline, "seed=None", "label=null", "extra=none") == {
        "seed": None, "label": None, "extra": None}
    assert "not a valid whole number" in error_of(cli, pipeline, "n_estimators=None")


def test_an_any_parameter_reads_json_or_keeps_the_text(pipeline):
    assert cli(pipeline, "extra=5") == {"extra": 5}
    assert cli(pipeline, 'extra={"a": [1]}') == {"extra": {"a": [1]}}
    assert cli(pipeline, "extra=hello world") == {"extra": "hello world"}


def test_choices_are_checked_after_typing(pipeline):
    assert cli(pipeline, "model=rf") == {"model": "rf"}
    assert cli(pipeline, "mode=1", "model=svm") == {"mode": 1, "model": "svm"}
    assert cli(pipeline, "mode=auto") == {"mode": "auto"}
    message = error_of(cli, pipeline, "model=xgb")
    assert message == "-p model='xgb': must be one of ['rf', 'svm']."


def test_a_boolean_is_not_taken_for_a_numeric_choice(pipeline):
    # True == 1 in Python, but the notebook declared 0, 1 or 'auto', not a boolean.
    assert "must be one of" in error_of(cli, pipeline, "mode=true")
    assert "must be one of" in error_of(resolve, pipeline, {"mode": False})


def test_a_mixed_literal_with_a_default_accepts_every_choice(parse):
    p = parse([code("mode: Literal[0, 1, 'auto'] = 'auto'", "parameters"),
               code("print(mode)", "step:a")])
    assert cli(p, "mode=1") == {"mode": 1}


def test_ranges_are_checked(pipeline):
    assert cli(pipeline, "n_estimators=1", "rate=1") == {"n_estimators": 1, "rate": 1.0}
    assert error_of(cli, pipeline, "n_estimators=0") == "-p n_estimators=0: must be at least 1."
    assert error_of(cli, pipeline, "n_estimators=501") == (
        "-p n_estimators=501: must be at most 500.")
    assert error_of(cli, pipeline, "rate=1.5") == "-p rate=1.5: must be at most 1."


@pytest.mark.parametrize("pair, kind", [
    ("n_estimators=5.0", "whole number"), ("n_estimators=many", "whole number"),
    ("rate=fast", "number"), ("verbose=maybe", "boolean"), ("layers=1,2", "JSON list"),
    ("config=depth=3", "JSON object"), ("seed=", "whole number"),
])
def test_text_that_is_not_of_the_declared_type(pipeline, pair, kind):
    name, _, value = pair.partition("=")
    message = error_of(cli, pipeline, pair)
    assert message.startswith(f"-p {name}={value!r}: not a valid ") and kind in message


def test_json_of_the_wrong_shape_is_refused(pipeline):
    assert error_of(cli, pipeline, 'layers={"a": 1}') == (
        "-p layers={'a': 1}: expected a JSON list, e.g. [1, 2], got dict.")
    assert "expected a JSON object" in error_of(cli, pipeline, "config=[1]")


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity"])
def test_inf_and_nan_cannot_be_passed(pipeline, text):
    # Checked before the range, which inf would only fail with a less telling message.
    message = error_of(cli, pipeline, f"rate={text}")
    assert message.startswith("-p rate: ") and "JSON has no inf or NaN" in message


def test_inf_and_nan_cannot_reach_an_any_parameter(pipeline):
    # Python's JSON reader accepts NaN and Infinity; "inf" is not JSON, so it stays text.
    assert "JSON has no inf or NaN" in error_of(cli, pipeline, "extra=NaN")
    assert "JSON has no inf or NaN" in error_of(cli, pipeline, "extra=-Infinity")
    assert "not a JSON value (finite numbers" in error_of(cli, pipeline, "extra=[1, NaN]")
    assert "not a JSON value (finite numbers" in error_of(resolve, pipeline,
                                                           {"extra": {"a": math.inf}})
    assert cli(pipeline, "extra=inf") == {"extra": "inf"}


# -- unknown names -----------------------------------------------------------------------
def test_an_unknown_name_lists_the_parameters_and_suggests_the_closest(pipeline):
    message = error_of(cli, pipeline, "n_estimator=5")
    assert message.startswith("-p n_estimator: no such parameter; parameters are "
                              "n_estimators, rate, name,")
    assert message.endswith("Did you mean 'n_estimators'?")
    assert "Did you mean" not in error_of(cli, pipeline, "zzz=1")
    assert error_of(resolve, pipeline, {"nme": "x"}).startswith("--params-file nme: ")


def test_a_notebook_without_parameters_says_how_to_declare_them(parse):
    bare = parse([code("x = 1", "step:a")])
    message = error_of(cli, bare, "x=1")
    assert message == ("-p x: the notebook has no parameters. Tag the cell that sets them "
                       "'parameters' (papermill's tag).")
    assert resolve(bare) == {}


# -- values from a file ------------------------------------------------------------------
def test_file_values_are_typed_by_yaml_and_the_command_line_wins(pipeline, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("n_estimators: 50\nrate: 1\nname: '5'\nverbose: yes\nlayers: [1, 2]\n"
                    "config: {depth: 4}\nseed: null\nmodel: svm\n")
    from_file = read_params_file(path)
    assert resolve(pipeline, from_file) == {
        "n_estimators": 50, "rate": 1.0, "name": "5", "verbose": True, "layers": [1, 2],
        "config": {"depth": 4}, "seed": None, "model": "svm"}
    both = resolve(pipeline, from_file, parse_assignments(["n_estimators=7", "model=rf"]))
    assert both["n_estimators"] == 7 and both["model"] == "rf" and both["rate"] == 1.0


def test_file_values_are_not_reinterpreted_as_text(pipeline):
    # A YAML string "5" is a string, not a number; a YAML 5 is not a string.
    assert "expected a whole number, got str" in error_of(resolve, pipeline,
                                                          {"n_estimators": "5"})
    assert "expected a str, got int" in error_of(resolve, pipeline, {"name": 5})
    assert "expected a whole number, got bool" in error_of(resolve, pipeline,
                                                           {"n_estimators": True})
    assert "expected a number, got bool" in error_of(resolve, pipeline, {"rate": False})
    assert "None is not a valid int" in error_of(resolve, pipeline, {"n_estimators": None})


def test_file_values_are_range_and_choice_checked(pipeline):
    assert "must be at most 500" in error_of(resolve, pipeline, {"n_estimators": 1000})
    assert "must be one of" in error_of(resolve, pipeline, {"model": "xgb"})


def test_file_values_must_be_json(pipeline, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("extra: 2024-01-31\nconfig: {1: a}\n")
    from_file = read_params_file(path)
    assert "is not a JSON value" in error_of(resolve, pipeline, {"extra": from_file["extra"]})
    # JSON object keys are strings; {1: 'a'} would reach the notebook as {'1': 'a'}.
    assert "is not a JSON value" in error_of(resolve, pipeline, {"config": from_file["config"]})
    assert "JSON has no inf or NaN" in error_of(resolve, pipeline, {"rate": math.inf})


def test_a_json_params_file_is_read_too(pipeline, tmp_path):
    path = tmp_path / "params.json"
    path.write_text('{"rate": 0.25, "layers": [4]}')
    assert resolve(pipeline, read_params_file(path)) == {"rate": 0.25, "layers": [4]}


def test_an_empty_params_file_sets_nothing(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert read_params_file(path) == {}


def test_a_missing_params_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert error_of(read_params_file, path) == (
        f"--params-file {path}: No such file or directory.")
    assert "Is a directory" in error_of(read_params_file, tmp_path)


def test_a_params_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rate: [0.1\nname: x\n")
    message = error_of(read_params_file, path)
    assert message.startswith(f"--params-file {path}: not valid YAML (")
    assert "line" in message


def test_a_params_file_that_is_not_text(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x05\x95\xff\xfe\x00binary")
    message = error_of(read_params_file, path)
    assert message.startswith(f"--params-file {path}: ") and "UTF-8" in message


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just text\n", "42\n", "{1: a}\n"])
def test_a_params_file_that_is_not_a_mapping_of_names(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert error_of(read_params_file, path) == (
        f"--params-file {path}: expected a mapping of name: value.")


# -- effective ---------------------------------------------------------------------------
def test_effective_merges_the_defaults_with_what_was_set(pipeline):
    values = effective(pipeline, cli(pipeline, "n_estimators=5", "seed=3"))
    assert values == {"n_estimators": 5, "rate": 0.5, "name": "iris", "verbose": False,
                      "layers": [16, 8], "config": {"depth": 3}, "extra": None, "seed": 3,
                      "label": None, "model": "rf", "mode": None}
    assert effective(pipeline, {}) == {p.name: p.default for p in pipeline.parameters}


def test_effective_does_not_share_the_overrides_dict(pipeline):
    overrides = {"rate": 0.1}
    values = effective(pipeline, overrides)
    values["rate"] = 0.9
    assert overrides == {"rate": 0.1}


def test_python_values_are_checked_as_a_params_files_are(pipeline):
    """`check` is what the Python API and the widget form use."""
    assert check(pipeline, {"n_estimators": 7, "rate": 1, "seed": None}) == {
        "n_estimators": 7, "rate": 1.0, "seed": None}
    assert error_of(check, pipeline, {"n_estimators": "7"}) == (
        "parameter n_estimators='7': expected a whole number, got str.")
    assert "Did you mean 'rate'" in error_of(check, pipeline, {"rat": 1})


def test_text_from_a_form_is_typed_as_minus_p_text(pipeline):
    assert check(pipeline, {"n_estimators": "7", "layers": "[1]", "label": "none"},
                 textual=True) == {"n_estimators": 7, "layers": [1], "label": None}
    assert "at most 500" in error_of(lambda: check(pipeline, {"n_estimators": "501"},
                                                   textual=True))
