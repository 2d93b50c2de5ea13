"""Where the caller runs: inside a Jupyter kernel or not, and which notebook that kernel has.

The API behaves differently in a notebook (show a live view and return at once) than in a
script (block until the run ends), and `Pipeline.from_notebook()` with no path means "the
notebook I am typing in". Neither answer may import IPython when the caller has not: a
script that never used IPython is not in a notebook, and stays light.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

SESSION_ENV = "JPY_SESSION_NAME"
"""Set by jupyter_server for each kernel it starts: the path of the kernel's notebook."""


class NotebookUnknown(RuntimeError):
    """The current notebook cannot be found: the caller must name it."""


def _shell() -> Any:
    """The running IPython shell, or None (without importing IPython when nobody did)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:
        return None


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (JupyterLab, VS Code, papermill), which
    can show widgets; a terminal IPython or a plain script cannot."""
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def current_notebook() -> Path:
    """The notebook file of the current kernel.

    Sources, first found wins: VS Code's `__vsc_ipynb_file__`, then `__session__` (which
    ipykernel copies from `JPY_SESSION_NAME`), then `JPY_SESSION_NAME` itself. A relative
    session path is taken relative to the kernel's working directory, then to the
    notebook's folder name alone (jupyter_server starts a kernel in its notebook's folder).
    """
    candidates: list[str] = []
    shell = _shell()
    namespace = getattr(shell, "user_ns", None) or {}
    for key in ("__vsc_ipynb_file__", "__session__"):
        value = namespace.get(key)
        if isinstance(value, str) and value:
            candidates.append(value)
    if os.environ.get(SESSION_ENV):
        candidates.append(os.environ[SESSION_ENV])
    for candidate in candidates:
        path = Path(candidate).expanduser()
        for option in (path, Path.cwd() / path, Path.cwd() / path.name):
            if option.suffix == ".ipynb" and option.is_file():
                return option.resolve()
    where = f" (tried {', '.join(dict.fromkeys(candidates))})" if candidates else ""
    raise NotebookUnknown(
        "cannot tell which notebook this is: pass its path, e.g. "
        "Pipeline.from_notebook('train.ipynb'). The current notebook is found only inside a "
        f"kernel started by Jupyter (JupyterLab, Notebook) or VS Code{where}."
    )
