"""The parameter form, driven in Python: widgets from the parameters' types, values typed
as `-p` types them, and the Run button starting a real run whose view reaches 'succeeded'.
"""

from __future__ import annotations

import time

import ipywidgets as widgets
import pytest
from conftest import code

from liminal_jupyter import Pipeline
from liminal_jupyter.params import ParameterError

PARAMS = [
    code("n = 3  # range: 1..10 how many rows\n"
         "ratio = 0.5  # range: 0..1 share kept\n"
         "mode = 'sum'  # type: Literal['sum','max'] how to combine\n"
         "double = False  # double the result\n"
         "label = 'x'  # a free text\n"
         "offsets = [0]  # added at the end\n"
         "seed = None  # type: Optional[int]", "parameters"),
    code("rows = list(range(n))\nkept = rows[: max(1, int(len(rows) * ratio))]", "step:load"),
    code("result = (sum(kept) if mode == 'sum' else max(kept)) * (2 if double else 1)"
         " + sum(offsets)", "step:combine"),
    code("result", "metrics"),
]


def eventually(check, timeout: float = 180.0, what: str = "the form's run to end") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def form(write_nb):
    return Pipeline.from_notebook(write_nb(PARAMS)).form(tracking=False)


def test_each_parameter_gets_the_widget_its_type_suggests(form):
    fields = form.fields

    assert isinstance(fields["n"], widgets.IntSlider)
    assert (fields["n"].min, fields["n"].max, fields["n"].value) == (1, 10, 3)
    assert isinstance(fields["ratio"], widgets.FloatSlider)
    assert (fields["ratio"].min, fields["ratio"].max, fields["ratio"].value) == (0, 1, 0.5)
    assert isinstance(fields["mode"], widgets.Dropdown)
    assert fields["mode"].options == (("sum", "sum"), ("max", "max"))
    assert fields["mode"].value == "sum"
    assert isinstance(fields["double"], widgets.Checkbox) and fields["double"].value is False
    assert isinstance(fields["label"], widgets.Text) and fields["label"].value == "x"
    assert isinstance(fields["offsets"], widgets.Text) and fields["offsets"].value == "[0]"
    assert isinstance(fields["seed"], widgets.Text) and fields["seed"].value == ""
    assert fields["n"].tooltip == "how many rows" and fields["mode"].tooltip == "how to combine"
    assert fields["n"].description == "n"


def test_only_changed_values_are_sent_typed_like_the_command_line(form):
    assert form.values() == {}

    form.fields["n"].value = 7
    form.fields["mode"].value = "max"
    form.fields["double"].value = True
    form.fields["offsets"].value = "[1, 2]"
    form.fields["seed"].value = "5"

    assert form.values() == {"n": 7, "mode": "max", "double": True, "offsets": [1, 2],
                             "seed": 5}
    form.fields["seed"].value = "five"
    with pytest.raises(ParameterError, match="seed='five': not a valid whole number"):
        form.values()


def test_the_run_button_starts_a_run_with_the_forms_values_and_shows_it_live(form):
    form.fields["n"].value = 5
    form.fields["mode"].value = "max"
    form.fields["double"].value = True

    form.run_button.click()

    assert form.message.value == ""
    run, view = form.last_run, form.last_view
    assert run is not None and form.run_area.children == (view,)
    eventually(lambda: view.status not in ("running", ""))
    assert {s: label.value for s, label in view.state_labels.items()} == {
        "load": "succeeded", "combine": "succeeded"}
    assert run.parameters == {"n": 5, "mode": "max", "double": True}
    assert run.metrics == {"result": 2}  # max of range(5)[:2], doubled


def test_a_bad_value_is_shown_in_the_form_and_starts_nothing(form):
    form.fields["offsets"].value = "[1, 2"

    form.run_button.click()

    assert "offsets" in form.message.value and "JSON list" in form.message.value
    assert form.last_run is None and form.run_area.children == ()
    assert not form.run_button.disabled
    assert form.pipeline.runs() == []
