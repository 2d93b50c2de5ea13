"""Finding a registered model: which tracking store, which version, which URI.

`liminal-nb deploy`, `predict` and `monitor` take a model the way a data scientist names it
(the registered name, optionally a version or an alias) and resolve it the same way, against
the same tracking store `liminal-nb run` logged to (tracking/uri.py picks it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from liminal_jupyter.deploy.gate import DEFAULT_ALIAS

URI_SCHEMES = ("models:/", "runs:/", "file:", "s3://", "gs://", "mlflow-artifacts:")


class ModelNotFound(Exception):
    """The model, version or alias asked for does not exist; the message says what does."""


@dataclass
class ResolvedModel:
    uri: str  # what MLflow loads: models:/NAME/VERSION, or the URI given
    name: str | None = None
    version: str | None = None
    run_id: str | None = None  # the run that logged it (its step run)

    def describe(self) -> str:
        if self.name and self.version:
            return f"{self.name} version {self.version}"
        return self.uri


def resolve_model(tracking_uri: str, model: str, version: str | None = None,
                  alias: str | None = None) -> ResolvedModel:
    """The registered version to use: `version`, else `alias`, else the `champion` alias if
    it is set, else the latest version. A URI (models:/, runs:/, a path) is used as given.
    """
    if model.startswith(URI_SCHEMES) or os.path.isdir(model):
        return ResolvedModel(uri=model)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_registered_model(model)
    except MlflowException:
        known = sorted(m.name for m in client.search_registered_models(max_results=50))
        hint = f" Registered models: {', '.join(known)}." if known else (
            " No model is registered there yet: `liminal-nb run` registers the `model:` "
            "variables of a notebook.")
        raise ModelNotFound(f"no registered model '{model}' in {tracking_uri}.{hint}") from None
    try:
        if version:
            found = client.get_model_version(model, str(version))
        elif alias:
            found = client.get_model_version_by_alias(model, alias)
        else:
            found = _default_version(client, model)
    except MlflowException:
        versions = sorted((v.version for v in client.search_model_versions(f"name='{model}'")),
                          key=int)
        what = f"version {version}" if version else f"alias '{alias}'"
        raise ModelNotFound(f"model '{model}' has no {what}; its versions: "
                            f"{', '.join(versions) or 'none'}") from None
    return ResolvedModel(uri=f"models:/{model}/{found.version}", name=model,
                         version=str(found.version), run_id=found.run_id)


def _default_version(client: Any, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, DEFAULT_ALIAS)
    except MlflowException:
        pass
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise MlflowException(f"model {name} has no versions")
    return max(versions, key=lambda v: int(v.version))
