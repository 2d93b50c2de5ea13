"""liminal-jupyter: from a tagged notebook to a pipeline that runs locally, on Kubeflow or Airflow.

Kept import-light on purpose: `liminal-nb --help` and `liminal-nb inspect` must stay fast,
so nothing heavy is imported at package import time. The Python API (`Pipeline`, `Run`) is
loaded on first use, through the module `__getattr__` below.
"""

from typing import Any

__version__ = "0.1.0"

_API = {"Pipeline", "Run", "PipelineInvalid", "NotebookUnknown"}
__all__ = ["Pipeline", "Run", "PipelineInvalid", "NotebookUnknown", "__version__"]


def __getattr__(name: str) -> Any:
    """`from liminal_jupyter import Pipeline` imports liminal_jupyter.api only then."""
    if name in _API:
        from liminal_jupyter import api

        return getattr(api, name)
    raise AttributeError(f"module 'liminal_jupyter' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext liminal_jupyter`: the `%liminal` magic (liminal_jupyter/magics.py)."""
    from liminal_jupyter.magics import load_ipython_extension as load

    load(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt side panel (`jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": "liminal-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server extension entry point (`jpserver_extensions: {"liminal_jupyter": true}`).

    Names the module that registers the REST handlers; nothing is imported here, so the
    package stays light for `liminal-nb`.
    """
    return [{"module": "liminal_jupyter.server"}]
