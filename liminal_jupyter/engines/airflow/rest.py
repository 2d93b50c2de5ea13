"""A small client of Airflow 3's REST API v2: just what submit, watch, logs and cancel use.

Plain urllib (no extra dependency; `apache-airflow-client` would pin its own urllib3 and
pydantic). Authentication is a JWT sent as `Authorization: Bearer`: either given (--token,
$LIMINAL_AIRFLOW_TOKEN) or obtained once from `POST /auth/token` with a username and
password (--username/--password, $LIMINAL_AIRFLOW_USERNAME/$LIMINAL_AIRFLOW_PASSWORD).
The notebook's `liminal.airflow` metadata may name the host, dags folder and username;
secrets come only from the command line or the environment and are never recorded in
the run store.

Every failure the user can meet becomes `AirflowError`: one line naming the host and what
to do (wrong credentials, unreachable host, unknown DAG or run), and an exit status.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

EXIT_FAILED, EXIT_INVALID = 1, 2
TOKEN_ENV = "LIMINAL_AIRFLOW_TOKEN"
USERNAME_ENV = "LIMINAL_AIRFLOW_USERNAME"
PASSWORD_ENV = "LIMINAL_AIRFLOW_PASSWORD"
HOST_ENV = "LIMINAL_AIRFLOW_HOST"
TIMEOUT = 30.0


class AirflowError(Exception):
    """A one-line message for the user, and the exit status (1 failure, 2 bad input)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NotFound(AirflowError):
    """The API answered 404 (no such DAG, run or task)."""


@dataclass
class Credentials:
    username: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def resolve(cls, username: str | None = None, password: str | None = None,
                token: str | None = None, settings: dict[str, Any] | None = None
                ) -> Credentials:
        """Arguments first, then $LIMINAL_AIRFLOW_*, then (username only) `liminal.airflow`."""
        settings = settings or {}
        return cls(username or os.environ.get(USERNAME_ENV) or settings.get("username"),
                   password or os.environ.get(PASSWORD_ENV),
                   token or os.environ.get(TOKEN_ENV))


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


class AirflowClient:
    """REST v2 of one Airflow api-server (`host` is its base URL, e.g. http://host:8080)."""

    def __init__(self, host: str, credentials: Credentials | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.host = host.rstrip("/")
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self._token = self.credentials.token

    # -- transport -----------------------------------------------------------------------
    def _send(self, method: str, path: str, body: Any = None, auth: bool = True,
              accept: str = "application/json") -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.host}{path}", data=data, method=method)
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AirflowError(f"cannot reach Airflow at {self.host}: {_one_line(reason)}: "
                               "check --host (the api-server's URL)") from None

    def _json(self, method: str, path: str, body: Any = None, what: str = "",
              auth: bool = True) -> Any:
        status, raw = self._send(method, path, body, auth=auth)
        if status < 300:
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                raise AirflowError(f"Airflow at {self.host} did not answer JSON while "
                                   f"{what} (is --host the api-server's URL?)") from None
        detail = _detail(raw)
        if status in (401, 403):
            raise AirflowError(f"Airflow at {self.host} refused the credentials (HTTP "
                               f"{status}: {detail}): pass --username/--password or --token, "
                               f"or set {USERNAME_ENV}/{PASSWORD_ENV} or {TOKEN_ENV}")
        if status == 404:
            raise NotFound(f"Airflow at {self.host}: {detail}", EXIT_INVALID)
        raise AirflowError(f"Airflow at {self.host} answered HTTP {status} while {what}: "
                           f"{detail}")

    def token(self) -> str:
        """The bearer token: the given one, else one from /auth/token (asked once)."""
        if self._token:
            return self._token
        user, password = self.credentials.username, self.credentials.password
        if not user or not password:
            raise AirflowError(f"no credentials for Airflow at {self.host}: pass --username "
                               f"and --password, or --token, or set {USERNAME_ENV} and "
                               f"{PASSWORD_ENV} (or {TOKEN_ENV})", EXIT_INVALID)
        answer = self._json("POST", "/auth/token", {"username": user, "password": password},
                            "logging in", auth=False)
        token = (answer or {}).get("access_token")
        if not token:
            raise AirflowError(f"Airflow at {self.host} gave no access token for {user!r}")
        self._token = token
        return token

    # -- the API -------------------------------------------------------------------------
    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v2/dags/{_q(dag_id)}", what="reading the DAG")

    def import_errors(self) -> list[dict[str, Any]]:
        answer = self._json("GET", "/api/v2/importErrors?limit=100",
                            what="reading import errors")
        return list((answer or {}).get("import_errors") or [])

    def unpause(self, dag_id: str) -> None:
        self._json("PATCH", f"/api/v2/dags/{_q(dag_id)}", {"is_paused": False},
                   "unpausing the DAG")

    def trigger(self, dag_id: str, dag_run_id: str, conf: dict[str, Any],
                note: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"dag_run_id": dag_run_id, "logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        return self._json("POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", body,
                          "triggering a DAG run")

    def dag_run(self, dag_id: str, dag_run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(dag_run_id)}",
                          what="reading the DAG run")

    def task_instances(self, dag_id: str, dag_run_id: str) -> list[dict[str, Any]]:
        answer = self._json("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(dag_run_id)}"
                            "/taskInstances?limit=1000", what="reading task instances")
        return list((answer or {}).get("task_instances") or [])

    def set_run_state(self, dag_id: str, dag_run_id: str, state: str) -> dict[str, Any]:
        """PATCH the run's state ('failed' stops it: Airflow terminates its running tasks)."""
        return self._json("PATCH", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(dag_run_id)}",
                          {"state": state}, f"marking the DAG run {state}")

    def return_value(self, dag_id: str, dag_run_id: str, task_id: str) -> Any:
        """The task's return value (its XCom), or None when it has none."""
        try:
            answer = self._json(
                "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(dag_run_id)}/taskInstances/"
                f"{_q(task_id)}/xcomEntries/return_value?deserialize=true&stringify=false",
                what="reading the task's result")
        except NotFound:
            return None
        return (answer or {}).get("value")

    def task_log(self, dag_id: str, dag_run_id: str, task_id: str, try_number: int) -> str:
        """The task's log for one try, as text (Airflow's structured lines joined)."""
        answer = self._json(
            "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(dag_run_id)}/taskInstances/"
            f"{_q(task_id)}/logs/{int(try_number)}?full_content=true", what="reading the log")
        return _log_text((answer or {}).get("content"))


def _q(part: str) -> str:
    return urllib.parse.quote(str(part), safe="")


def _detail(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return _one_line(raw.decode(errors="replace"))[:300] or "no message"
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(_one_line(d.get("msg", d)) if isinstance(d, dict) else str(d)
                           for d in detail)
    return _one_line(detail)[:300]


def _log_text(content: Any) -> str:
    """Airflow 3 returns a log as a list of structured records (or one string)."""
    if isinstance(content, str):
        return content
    lines = []
    for record in content or []:
        if isinstance(record, dict):
            event = record.get("event", "")
            when = record.get("timestamp")
            level = record.get("level")
            prefix = " ".join(str(p) for p in (when, level and level.upper()) if p)
            lines.append(f"[{prefix}] {event}" if prefix else str(event))
        else:
            lines.append(str(record))
    return "\n".join(lines) + ("\n" if lines else "")
