"""Loading a registered model inside a notebook step: the Inference phase.

A batch-scoring pipeline is a notebook whose `phase:inference` step calls
`load_model("iris-classification")` and predicts. The tracking store is the one the run
uses: the runner passes it to step kernels as MLFLOW_TRACKING_URI; without it (a plain
notebook session) the local store `liminal-nb run` keeps next to the notebook is used.
"""

from __future__ import annotations

from typing import Any


def load_model(name: str, *, version: str | None = None, alias: str | None = None,
               tracking_uri: str | None = None) -> Any:
    """The MLflow python-function model registered as `name`: `version`, else `alias`,
    else the champion, else the latest version. Call `.predict(rows)` on it."""
    import mlflow.pyfunc

    from liminal_jupyter.deploy.registry import resolve_model
    from liminal_jupyter.tracking.session import global_tracking_uri
    from liminal_jupyter.tracking.uri import tracking_uri_for

    uri = tracking_uri_for(tracking_uri)
    resolved = resolve_model(uri, name, version, alias)
    with global_tracking_uri(uri):  # the notebook's own MLflow URI is left as it was
        return mlflow.pyfunc.load_model(resolved.uri)
