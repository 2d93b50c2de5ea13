"""The object-storage credentials of a task, from an Airflow connection id.

A platform team keeps its keys in Airflow connections, not in every worker's
environment. A DAG compiled with `--artifacts-connection ID` names only the id (never a
key); each task reads that connection through Airflow's Task SDK when it starts, so the
keys come from wherever the deployment keeps connections (its database, a secrets
backend, AIRFLOW_CONN_* variables) and Airflow masks them in the task log.

Only s3:// artifacts take a connection, read as the Amazon provider reads an `aws`
connection: login is the access key id, password the secret key, and the extra's
`endpoint_url` and `region_name` complete it (the extra's `aws_access_key_id` and
`aws_secret_access_key` stand in for an empty login and password; `aws_session_token`).
Without a connection, fsspec finds credentials as usual
(AWS_* variables, an instance role).
"""

from __future__ import annotations

import re
from typing import Any

CONNECTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


class ArtifactsConnectionError(Exception):
    """The connection cannot give credentials for the artifacts location (one line)."""


def check_connection_id(conn_id: str, artifacts: str) -> None:
    """Refuse, at compile time, an id Airflow could not hold or artifacts it cannot serve."""
    if not CONNECTION_ID.match(conn_id):
        raise ArtifactsConnectionError(f"artifacts connection {conn_id!r} is not a valid Airflow "
                               "connection id: use letters, digits, '_', '-' and '.'")
    if not artifacts.startswith("s3://"):
        raise ArtifactsConnectionError(f"an artifacts connection applies to s3:// artifacts only, "
                               f"not {artifacts!r}; other stores take their credentials "
                               "from the workers' environment")


def storage_options(conn_id: str | None) -> dict[str, Any]:
    """fsspec's s3 options from Airflow connection `conn_id` ({} when None).

    Runs inside an Airflow task, where the Task SDK answers `Connection.get`.
    """
    if not conn_id:
        return {}
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception as exc:  # Airflow's own not-found and access errors, whatever their type
        raise ArtifactsConnectionError(f"the artifacts connection {conn_id!r} cannot be read from "
                               f"Airflow: {type(exc).__name__}: {exc}") from None
    return options_from(conn.login, conn.password, conn.extra_dejson or {})


def options_from(login: str | None, password: str | None,
                 extra: dict[str, Any]) -> dict[str, Any]:
    """s3fs keyword arguments from an `aws` connection's fields."""
    options: dict[str, Any] = {}
    key = login or extra.get("aws_access_key_id")
    secret = password or extra.get("aws_secret_access_key")
    if key:
        options["key"] = key
    if secret:
        options["secret"] = secret
    if extra.get("aws_session_token"):
        options["token"] = extra["aws_session_token"]
    client = {name: extra[name] for name in ("endpoint_url", "region_name") if extra.get(name)}
    if client:
        options["client_kwargs"] = client
    return options
