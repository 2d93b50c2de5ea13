"""Registry and monitoring work the server hands to a child process: `python -m` this module.

Finding a registered model and checking data for drift read MLflow and data files only (no
user code), but they import MLflow, pandas and numpy: seconds of imports and hundreds of MB
that the Jupyter server would then carry for good, and a crash in a data reader would take
the user's whole session down. So each request runs in a short-lived child: a JSON request
on stdin, one JSON reply on stdout, and the exit status says which kind of reply it is.

Request: {"job": "resolve" | "monitor", "tracking_uri", "name", "version", "alias", and for
monitor "data", "threshold", "report"} (paths absolute, already confined by the server).
Reply: the result (exit 0), or {"message"} with exit 2 for a model or version that does
not exist, 3 for unusable input (data file, no training profile), 1 for anything else.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_BAD_INPUT = 0, 1, 2, 3
JOB_TIMEOUT = 300.0  # seconds; MLflow's import alone takes several on a loaded machine


class JobError(Exception):
    """A job's failure: `kind` is "not_found", "bad_input" or "failed"; the message is the
    job's own, one readable paragraph."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def run_job(request: dict[str, Any], timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    """Run one job in a child process and return its reply; JobError when it failed."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "liminal_jupyter.server.model_jobs"],
            input=json.dumps(request), capture_output=True, text=True, timeout=timeout,
            env=_child_env())
    except subprocess.TimeoutExpired:
        raise JobError("failed", f"the {request.get('job')} job did not finish within "
                       f"{timeout:.0f} s") from None
    reply = _last_json_line(done.stdout)
    if done.returncode == EXIT_OK and reply is not None:
        return reply
    kind = {EXIT_NOT_FOUND: "not_found", EXIT_BAD_INPUT: "bad_input"}.get(done.returncode,
                                                                          "failed")
    message = (reply or {}).get("message") or _tail(done.stderr) or (
        f"the {request.get('job')} job exited with status {done.returncode}")
    raise JobError(kind, message)


def _child_env() -> dict[str, str]:
    import os

    return {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# -- in the child -------------------------------------------------------------------------
def resolve(request: dict[str, Any]) -> dict[str, Any]:
    from liminal_jupyter.deploy.registry import resolve_model

    model = resolve_model(request["tracking_uri"], request["name"], request.get("version"),
                          request.get("alias"))
    return {"uri": model.uri, "name": model.name, "version": model.version,
            "run_id": model.run_id}


def monitor(request: dict[str, Any]) -> dict[str, Any]:
    from liminal_jupyter.deploy.monitor import monitor as check
    from liminal_jupyter.deploy.predict import read_rows
    from liminal_jupyter.deploy.registry import resolve_model

    rows = read_rows(Path(request["data"]))
    uri = request["tracking_uri"]
    model = resolve_model(uri, request["name"], request.get("version"), request.get("alias"))
    report = Path(request["report"])
    report.parent.mkdir(parents=True, exist_ok=True)
    result = check(uri, model, rows, threshold=request.get("threshold"), report_path=report)
    return {
        "model": result.model, "name": model.name, "version": model.version,
        "threshold": result.threshold, "rows": result.rows, "summary": result.summary(),
        "drifted": [f.feature for f in result.drifted],
        "features": [_finite(f.to_json()) for f in result.features],
        "tracking_run_id": result.tracking_run_id, "report": str(report),
    }


def _finite(feature: dict[str, Any]) -> dict[str, Any]:
    """A missing column's PSI is infinite: JSON has no infinity, so it is null there."""
    psi = feature["psi"]
    return {**feature, "psi": psi if math.isfinite(psi) else None}


JOBS = {"resolve": resolve, "monitor": monitor}


def main() -> int:
    import logging
    import warnings

    from liminal_jupyter.startup import skip_slow_optional_imports

    skip_slow_optional_imports()

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    from liminal_jupyter.deploy.monitor import NoReference
    from liminal_jupyter.deploy.predict import InputError
    from liminal_jupyter.deploy.registry import ModelNotFound

    request = json.loads(sys.stdin.read() or "{}")
    job = JOBS.get(request.get("job"))
    if job is None:
        return _reply({"message": f"unknown job {request.get('job')!r}"}, EXIT_FAILED)
    try:
        result = job(request)
    except ModelNotFound as exc:
        return _reply({"message": str(exc)}, EXIT_NOT_FOUND)
    except (InputError, NoReference) as exc:
        return _reply({"message": str(exc)}, EXIT_BAD_INPUT)
    except Exception as exc:  # the reply carries the reason; the server says it as a 500
        return _reply({"message": f"{type(exc).__name__}: {exc}"}, EXIT_FAILED)
    return _reply(result, EXIT_OK)


def _reply(data: dict[str, Any], status: int) -> int:
    # MLflow may print to stdout (run links): the reply is the last line, on its own.
    sys.stdout.write("\n" + json.dumps(data, default=str) + "\n")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
