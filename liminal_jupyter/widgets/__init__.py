"""ipywidgets views for use inside a notebook: a live run view and a parameter form.

Importing this package imports ipywidgets; nothing else in liminal_jupyter imports it
until a view is shown (`Pipeline.run()` in a notebook, `Pipeline.form()`).
"""

from liminal_jupyter.widgets.form import ParameterForm
from liminal_jupyter.widgets.run_view import RunView

__all__ = ["ParameterForm", "RunView"]
