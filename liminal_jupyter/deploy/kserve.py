"""A KServe InferenceService for a registered model: what a cluster needs to serve it.

KServe's MLflow runtime (MLServer, open inference protocol v2) serves an MLflow model
folder from object storage; we write the manifest, the cluster's tools apply it.
"""

from __future__ import annotations

import re
from typing import Any

LOCAL_SCHEMES = ("file:", "/", "mlflow-artifacts:", "models:", "runs:")


def service_name(name: str) -> str:
    """A DNS-1123 label: lower case letters, digits and '-', at most 63, starting with a letter."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"model-{label}".rstrip("-")
    return label[:63].rstrip("-")


def inference_service(name: str, storage_uri: str, *, namespace: str | None = None,
                      service_account: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": service_name(name),
                                "labels": {"app.kubernetes.io/managed-by": "liminal-jupyter"}}
    if namespace:
        metadata["namespace"] = namespace
    predictor: dict[str, Any] = {
        "model": {"modelFormat": {"name": "mlflow"}, "protocolVersion": "v2",
                  "storageUri": storage_uri},
    }
    if service_account:
        predictor["serviceAccountName"] = service_account
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": metadata, "spec": {"predictor": predictor}}


def storage_is_local(uri: str) -> bool:
    """A URI a cluster cannot read (this machine's files, the MLflow server's own store)."""
    return uri.startswith(LOCAL_SCHEMES)
