"""airflow: the compiled DAG run by `airflow dags test` on this machine, `liminal-nb
compile --target airflow`, and a run submitted to an Airflow 3 deployment (its REST API
v2), followed, logged and cancelled there.

A run of this engine is remote when the ledger records it with a host URL and a
DAG_ID/DAG_RUN_ID (engines/airflow/submit.py `is_remote`); every other run is a local
`airflow dags test` run, which the runs ledger knows (LedgerEngine)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.engines.base import (
    Capabilities,
    CompiledFile,
    EngineRefused,
    LedgerEngine,
    RunRequest,
    RunResult,
    Submission,
    SubmitFailed,
    SubmitOption,
    SubmitRequest,
)

if TYPE_CHECKING:
    from liminal_jupyter.runs.progress import Reporter


class AirflowLocalEngine(LedgerEngine):
    name = "airflow"
    description = ("compile to an Apache Airflow 3 DAG and run it with `airflow dags test` "
                   "(needs pip install 'liminal-jupyter[airflow]')")
    capabilities = Capabilities(run=True, compile=True, submit=True)

    # -- a deployment: submit, status, follow, logs, cancel ------------------------------
    def submit_options(self) -> list[SubmitOption]:
        return [
            SubmitOption("host", "Airflow host", "the api-server's URL (default: "
                         "$LIMINAL_AIRFLOW_HOST, else liminal.airflow host)", required=True,
                         placeholder="http://localhost:8080"),
            SubmitOption("dags_folder", "DAGs folder", "the folder the deployment's "
                         "dag-processor reads (default: liminal.airflow dags_folder)",
                         required=True, placeholder="/opt/airflow/dags"),
            SubmitOption("artifacts", "Artifacts", "where tasks keep run folders, a path or "
                         "an fsspec URL (default: liminal.artifacts)"),
            SubmitOption("artifacts_connection", "Artifacts connection", "an Airflow "
                         "connection id (type aws) whose keys the tasks use for s3:// "
                         "artifacts (default: liminal.airflow artifacts_connection)",
                         placeholder="aws_default"),
            SubmitOption("username", "Username", "default: $LIMINAL_AIRFLOW_USERNAME, else "
                         "liminal.airflow username"),
            SubmitOption("password", "Password", "default: $LIMINAL_AIRFLOW_PASSWORD",
                         secret=True),
            SubmitOption("token", "Token", "a JWT instead of a password (default: "
                         "$LIMINAL_AIRFLOW_TOKEN)", secret=True),
        ]

    def submit(self, request: SubmitRequest) -> Submission:
        """Write the DAG, wait until it is parsed, trigger a run, record it
        (engines/airflow/submit.py)."""
        import os

        from liminal_jupyter.engines import secrets
        from liminal_jupyter.engines.airflow.rest import (
            EXIT_INVALID,
            HOST_ENV,
            AirflowClient,
            AirflowError,
            Credentials,
        )
        from liminal_jupyter.engines.airflow.submit import run_url, settings_of, submit

        settings = settings_of(request.pipeline)
        host = request.setting("host") or os.environ.get(HOST_ENV) or settings.get("host")
        dags = request.setting("dags_folder") or settings.get("dags_folder")
        if not host or not dags:
            raise SubmitFailed("Airflow needs its host (the api-server's URL) and its DAGs "
                               "folder (the folder its dag-processor reads), or liminal."
                               "airflow host and dags_folder in the notebook's metadata",
                               invalid=True)
        if not str(host).startswith(("http://", "https://")):
            raise SubmitFailed(f"the Airflow host must be the api-server's http(s) URL, "
                               f"not {host!r}", invalid=True)
        host = str(host).rstrip("/")
        password, token = request.setting("password"), request.setting("token")
        credentials = Credentials.resolve(request.setting("username"), password, token,
                                          settings)
        try:
            done = submit(request.notebook, request.pipeline, AirflowClient(host, credentials),
                          Path(str(dags)), request.values, run_name=request.run_name,
                          artifacts=request.setting("artifacts") or settings.get("artifacts"),
                          artifacts_connection=request.setting("artifacts_connection"),
                          dag_id=request.options.get("dag_id"),
                          parse_timeout=request.options.get("parse_timeout") or 120.0,
                          on_wait=request.on_wait)
        except AirflowError as exc:
            raise SubmitFailed(str(exc), invalid=exc.exit_code == EXIT_INVALID) from None
        secrets.remember(self.name, host, {"username": credentials.username,
                                           "password": password, "token": token})
        return Submission(done.run_id, done.remote_id, host,
                          run_url(host, done.remote_id),
                          f"Airflow DAG run {done.dag_run_id} of DAG {done.dag_id} "
                          f"(file {done.dag_file})",
                          notes=list(done.notes), store_warning=done.store_warning,
                          store_root=done.store_root)

    def run_url(self, host: str, remote_id: str) -> str:
        """The DAG run's page in Airflow's UI."""
        from liminal_jupyter.engines.airflow.submit import run_url

        return run_url(host, remote_id)

    def _remote(self, store: Any, run_id: str) -> Any:
        """The run's record when it was submitted to a deployment, else None."""
        from liminal_jupyter.engines.airflow.submit import is_remote

        record = store.get_run(run_id)
        return record if is_remote(record) else None

    def _client(self, host: str) -> Any:
        """A client for `host` with the secrets this process was given for it (or the
        environment's): credentials are never read from the ledger."""
        from liminal_jupyter.engines import secrets
        from liminal_jupyter.engines.airflow.rest import AirflowClient, Credentials

        kept = secrets.recall(self.name, host)
        return AirflowClient(host, Credentials.resolve(kept.get("username"),
                                                       kept.get("password"),
                                                       kept.get("token")))

    def status(self, store: Any, run_id: str) -> str:
        """A submitted run: its DAG run's state, mirrored into the ledger first."""
        from liminal_jupyter.engines.airflow.submit import get_state, record_state, split_remote_id

        record = self._remote(store, run_id)
        if record is None or record.finished:
            return super().status(store, run_id)
        client = self._client(record.host)
        state = get_state(client, *split_remote_id(record.remote_id))
        record_state(store, run_id, state, client)
        return store.get_run(run_id).status

    def follow(self, store: Any, run_id: str, on_change: Any = None,
               interval: float = 5.0) -> str:
        """Poll a submitted run to its end, mirroring each change into the ledger."""
        from liminal_jupyter.engines.airflow.submit import follow, record_state, split_remote_id

        record = self._remote(store, run_id)
        if record is None:
            return super().status(store, run_id)
        client = self._client(record.host)

        def changed(state: Any) -> None:
            record_state(store, run_id, state, client)
            if on_change is not None:
                on_change(state)

        follow(client, *split_remote_id(record.remote_id), interval, changed)
        return store.get_run(run_id).status

    def logs(self, store: Any, run_id: str, step: str) -> str | None:
        """A submitted run's task log (its latest try) through the API; None before the
        task started."""
        from liminal_jupyter.engines.airflow.submit import split_remote_id

        record = self._remote(store, run_id)
        if record is None:
            return super().logs(store, run_id, step)
        client = self._client(record.host)
        dag_id, dag_run_id = split_remote_id(record.remote_id)
        tries = {ti["task_id"]: ti for ti in client.task_instances(dag_id, dag_run_id)}
        try_number = (tries.get(step) or {}).get("try_number")
        if not try_number:
            return None
        return client.task_log(dag_id, dag_run_id, step, try_number)

    def cancel(self, store: Any, run_id: str) -> bool:
        """A submitted run: its DAG run marked failed (Airflow stops its tasks), recorded
        cancelled; False when it had ended. A local run: its runner stopped."""
        from liminal_jupyter.engines.airflow.submit import get_state, record_state, split_remote_id

        record = self._remote(store, run_id)
        if record is None:
            return super().cancel(store, run_id)
        if record.finished:
            return False
        client = self._client(record.host)
        dag_id, dag_run_id = split_remote_id(record.remote_id)
        state = get_state(client, dag_id, dag_run_id)
        if state.final:  # it ended before we asked: record how
            record_state(store, run_id, state, client)
            return False
        client.set_run_state(dag_id, dag_run_id, "failed")  # Airflow stops its tasks
        store.finish_run(run_id, "cancelled", "cancelled from liminal (DAG run marked failed)")
        return True


    def add_commands(self, commands: Any) -> None:
        """`liminal-nb cancel` of a run submitted to an Airflow deployment (`submit
        --engine airflow` and `watch` share KFP's parsers)."""
        from liminal_jupyter.engines.airflow.submit_commands import add_cancel_command

        add_cancel_command(commands)

    def run(self, request: RunRequest, reporter: Reporter) -> RunResult:
        from liminal_jupyter.engines.airflow.local_backend import AirflowLocalRun

        return AirflowLocalRun(request, reporter).run()

    # `liminal-nb compile --target airflow`
    def add_compile_arguments(self, parser: argparse.ArgumentParser) -> tuple[str, str]:
        from liminal_jupyter.engines.airflow import commands

        commands.add_compile_arguments(parser)
        return commands.COMPILE_HELP, commands.COMPILE_EPILOG

    def compile_from_args(self, args: argparse.Namespace, pipeline: Any,
                          notebook: Path) -> int:
        from liminal_jupyter.engines.airflow.commands import compile_airflow

        return compile_airflow(args, pipeline, notebook)

    def compile_file(self, pipeline: Any, image: str | None = None) -> CompiledFile:
        import tempfile

        from liminal_jupyter.engines.airflow.compile import (
            CompileError,
            DagOptions,
            dag_id_for,
            write_dag,
        )

        with tempfile.TemporaryDirectory(prefix="liminal-compile-") as tmp:
            name = f"{dag_id_for(pipeline.name)}.py"
            try:
                result = write_dag(pipeline, Path(tmp) / name, DagOptions(image=image))
            except CompileError as exc:
                raise EngineRefused(str(exc)) from None
            return CompiledFile(result.path.name, result.path.read_text(encoding="utf-8"),
                                "text/x-python", list(result.notes))


ENGINE = AirflowLocalEngine()
