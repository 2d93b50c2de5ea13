"""The model registry: a new version per logged model, and the aliases and tags a promotion
decision asks for.

The tracker only records: whether a version may be promoted is decided elsewhere (the
promotion gate, deploy/gate.py, asked by the runner), and handed in as a `Promotion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from liminal_jupyter.tracking.session import global_tracking_uri

MAX_TAG_CHARS = 5000
"""MLflow's limit on a tag value: longer verdicts are cut."""


class Promotion(Protocol):
    """A promotion decision (deploy.gate.Decision has this shape)."""

    allowed: bool
    alias: str
    reasons: list[str]

    def describe(self) -> str: ...


def register_version(client: Any, tracking_uri: str, name: str, uri: str, run_id: str) -> str:
    """A new version of registered model `name` from the logged model at `uri`; its number.

    Through the client rather than `mlflow.register_model`, which prints to stderr
    ("Registered model ... already exists") over the run's progress view.
    """
    from mlflow.exceptions import MlflowException

    # The registry resolves a `models:/m-...` source through the global URI.
    with global_tracking_uri(tracking_uri):
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        model_id = uri.removeprefix("models:/") if uri.startswith("models:/m-") else None
        version = client.create_model_version(name, uri, run_id=run_id, model_id=model_id)
    return str(version.version)


def apply_promotion(client: Any, versions: Mapping[str, str], decision: Promotion,
                    parent_run_id: str) -> list[str]:
    """Tag each registered version with the verdict (`liminal.validation`), give it the
    decision's alias if it is allowed, and note the outcome on the parent run
    (`liminal.deploy`). Returns one line a version, for the run's output."""
    verdict = "passed" if decision.allowed else "blocked: " + "; ".join(decision.reasons)
    lines = []
    for name, version in versions.items():
        client.set_model_version_tag(name, version, "liminal.validation",
                                     verdict[:MAX_TAG_CHARS])
        if decision.allowed:
            client.set_registered_model_alias(name, decision.alias, version)
        lines.append(f"model {name} version {version} registered; {decision.describe()}")
    client.set_tag(parent_run_id, "liminal.deploy", "; ".join(lines)[:MAX_TAG_CHARS])
    return lines
