"""A form of the pipeline's parameters, with a Run button that starts a run and shows it.

Each parameter gets the widget its declared type suggests: a slider for a number with
both bounds (`# range: LO..HI`), a dropdown for choices (`Literal[...]`), a checkbox for
a bool, and a text box otherwise, typed on Run exactly as `liminal-nb run -p` types text.
Only the values changed in the form are sent, so a default the notebook computes (say
`data_dir = os.getcwd()`) still runs as written.
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from liminal_jupyter.widgets.run_view import RunView

if TYPE_CHECKING:
    from liminal_jupyter.api.pipeline import Pipeline
    from liminal_jupyter.api.run import Run
    from liminal_jupyter.pipeline import Parameter

_STYLE = {"description_width": "10em"}
_LAYOUT = {"width": "28em"}


class ParameterForm(widgets.VBox):
    """`fields[name]` is each parameter's widget; `run_button.click()` starts a run, whose
    handle is then `last_run` and whose live view `last_view` (shown under the button).

    run_options: keyword options for `Pipeline.run` (e.g. `tracking=False`, `jobs=2`).
    """

    def __init__(self, pipeline: Pipeline, *, run_options: dict[str, Any] | None = None
                 ) -> None:
        self.pipeline = pipeline
        self.run_options = dict(run_options or {})
        self.fields: dict[str, widgets.ValueWidget] = {}
        rows = []
        for param in pipeline.parameters.values():
            field = field_for(param)
            self.fields[param.name] = field
            hint = widgets.HTML(f"<span style='color:#757575'>{html.escape(param.type)}"
                                + (f" — {html.escape(param.help)}" if param.help else "")
                                + "</span>")
            rows.append(widgets.HBox([field, hint]))
        self._initial = {name: field.value for name, field in self.fields.items()}
        self.run_button = widgets.Button(description="Run", button_style="primary",
                                         icon="play", tooltip=f"run {pipeline.name}")
        self.run_button.on_click(self._on_run)
        self.message = widgets.HTML()
        self.run_area = widgets.VBox()
        self.last_run: Run | None = None
        self.last_view: RunView | None = None
        title = widgets.HTML(f"<b>{html.escape(pipeline.name)}</b>"
                             + ("" if rows else " (no parameters)"))
        super().__init__([title, *rows, widgets.HBox([self.run_button, self.message]),
                          self.run_area])
        self.add_class("liminal-parameter-form")

    def values(self) -> dict[str, Any]:
        """The values changed in the form, typed and checked (ParameterError if not)."""
        texts, typed = {}, {}
        for name, field in self.fields.items():
            if field.value == self._initial[name]:
                continue
            (texts if isinstance(field, widgets.Text) else typed)[name] = field.value
        return {**self.pipeline.check_parameters(typed),
                **self.pipeline.check_parameters(texts, textual=True)}

    def _on_run(self, _button: Any = None) -> None:
        self.message.value = ""
        self.run_button.disabled = True
        try:
            run = self.pipeline.run(self.values(), wait=False, show=False, **self.run_options)
        except Exception as exc:  # shown in the form: a bad value, an invalid notebook
            self.message.value = (f"<span style='color:#c62828'>"
                                  f"{html.escape(str(exc))}</span>")
            return
        finally:
            self.run_button.disabled = False
        if self.last_view is not None:
            self.last_view.stop()
        self.last_run = run
        self.last_view = RunView(run)
        self.run_area.children = (self.last_view,)


def field_for(param: Parameter) -> widgets.ValueWidget:
    """The widget for one parameter, from its type, choices and bounds."""
    common = {"description": param.name, "tooltip": param.help or param.type,
              "style": _STYLE, "layout": _LAYOUT}
    if param.choices is not None:
        options = [(_label(c), c) for c in param.choices]
        if param.nullable and None not in param.choices:
            options.append(("None", None))
        value = next((v for _, v in options if _same(v, param.default)), options[0][1]
                     if options else None)
        return widgets.Dropdown(options=options, value=value, **common)
    if param.type == "bool":
        if param.nullable:
            return widgets.Dropdown(options=[("True", True), ("False", False), ("None", None)],
                                    value=param.default, **common)
        return widgets.Checkbox(value=bool(param.default), indent=False, **common)
    bounded = param.minimum is not None and param.maximum is not None
    if bounded and param.type == "int":
        low, high = math.ceil(param.minimum), math.floor(param.maximum)
        return widgets.IntSlider(min=low, max=high, value=_clamp(param.default, low, high),
                                 **common)
    if bounded and param.type == "float":
        low, high = float(param.minimum), float(param.maximum)
        return widgets.FloatSlider(min=low, max=high, step=(high - low) / 100 or 0.01,
                                   value=_clamp(param.default, low, high),
                                   readout_format=".3g", **common)
    placeholder = "None (or computed in the notebook)" if param.default is None else ""
    return widgets.Text(value=_text(param), placeholder=placeholder, **common)


def _text(param: Parameter) -> str:
    """The default as the text `-p` would take for it."""
    value = param.default
    if value is None:
        return ""
    if param.type == "str" and isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _label(choice: Any) -> str:
    return choice if isinstance(choice, str) else repr(choice)


def _same(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _clamp(value: Any, low: float, high: float) -> Any:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return low
    return min(max(value, low), high)
