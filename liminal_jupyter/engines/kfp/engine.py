"""Kubeflow Pipelines: `kfp` compiles and submits to a KFP host; `kfp-local` runs the
compiled YAML on this machine with KFP's own local runner, to prove it runs."""

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


class KfpEngine:
    """A Kubeflow Pipelines host: compile, submit, follow (`watch`)."""

    name = "kfp"
    description = ("Kubeflow Pipelines v2: compile to KFP YAML, submit to a KFP host and "
                   "follow its runs (liminal-nb submit / watch)")
    capabilities = Capabilities(remote=True, run=False, submit=True, compile=True,
                                cancel=True, logs=False)

    def submit_options(self) -> list[SubmitOption]:
        return [
            SubmitOption("host", "KFP host", "the KFP API's URL", required=True,
                         placeholder="http://localhost:8080"),
            SubmitOption("experiment", "Experiment", "default: the notebook's "
                         "liminal.experiment, else the pipeline name"),
            SubmitOption("image", "Image", "container image of steps with no image: tag"),
            SubmitOption("token", "Token", "bearer token (default: $KF_PIPELINES_TOKEN)",
                         secret=True),
        ]

    def submit(self, request: SubmitRequest) -> Submission:
        """Compile, create the run on the KFP host, record it (engines/kfp/submit.py)."""
        from liminal_jupyter.engines import secrets
        from liminal_jupyter.engines.kfp.submit import EXIT_INVALID, KfpError, submit

        host = request.setting("host")
        if not host or not str(host).startswith(("http://", "https://")):
            raise SubmitFailed(f"the KFP host must be the KFP API's http(s) URL, e.g. "
                               f"http://localhost:8080, not {host!r}", invalid=True)
        host = str(host).rstrip("/")
        token = request.setting("token")
        more = request.options
        try:
            done = submit(request.notebook, request.pipeline, host, request.values,
                          experiment=request.setting("experiment"),
                          run_name=request.run_name, token=token,
                          image=request.setting("image"), cookies=more.get("cookies"),
                          namespace=more.get("namespace"),
                          create_experiment=more.get("create_experiment", True),
                          workspace_uri=more.get("workspace_uri"),
                          install_runtime=more.get("install_runtime"),
                          index_urls=more.get("index_urls"))
        except KfpError as exc:
            raise SubmitFailed(str(exc), invalid=exc.exit_code == EXIT_INVALID) from None
        secrets.remember(self.name, host, {"token": token})
        made = [f"created experiment '{done.experiment}' on {host}"] \
            if done.experiment_created else []
        return Submission(done.run_id, done.remote_id, host, done.url,
                          f"KFP run {done.remote_id} (experiment '{done.experiment}')",
                          notes=list(done.notes), store_warning=done.store_warning,
                          store_root=done.store_root, done=made)

    def _client(self, host: str) -> Any:
        from liminal_jupyter.engines import secrets
        from liminal_jupyter.engines.kfp.submit import connect

        return connect(host, secrets.recall(self.name, host).get("token"))

    def status(self, store: Any, run_id: str) -> str:
        """The run's state on its host, mirrored into the runs ledger first."""
        from liminal_jupyter.engines.kfp.submit import get_state, record_state

        record = store.get_run(run_id)
        if record.finished or not (record.host and record.remote_id):
            return record.status
        state = get_state(self._client(record.host), record.host, record.remote_id)
        record_state(store, run_id, state)
        return store.get_run(run_id).status

    def cancel(self, store: Any, run_id: str) -> bool:
        """Terminate the run on its host (KFP REST `POST /runs/{id}:terminate`); the
        ledger records it cancelled. False when it had ended already."""
        from liminal_jupyter.engines.kfp.submit import terminate

        record = store.get_run(run_id)
        if record.finished or not (record.host and record.remote_id):
            return False
        terminate(self._client(record.host), record.host, record.remote_id)
        store.finish_run(run_id, "cancelled", "cancelled from liminal (KFP run terminated)")
        return True

    def run_url(self, host: str, remote_id: str) -> str:
        """The run's page in the KFP UI."""
        from liminal_jupyter.engines.kfp.submit import run_url

        return run_url(host, remote_id)

    def follow(self, store: Any, run_id: str, on_change: Any = None,
               interval: float = 5.0) -> str:
        """Poll the host to the run's end, mirroring each change into the runs ledger (and
        telling `on_change(state)`); the status it ended with."""
        from liminal_jupyter.engines.kfp.submit import follow, record_state

        record = store.get_run(run_id)

        def changed(state: Any) -> None:
            record_state(store, run_id, state)
            if on_change is not None:
                on_change(state)

        follow(self._client(record.host), record.host, record.remote_id, interval, changed)
        return store.get_run(run_id).status

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        """`liminal-nb submit` and `watch`."""
        from liminal_jupyter.engines.kfp.submit_commands import add_submit_commands

        add_submit_commands(commands)

    def add_compile_arguments(self, parser: argparse.ArgumentParser) -> tuple[str, str]:
        from liminal_jupyter.engines.kfp.commands import add_compile_arguments

        return add_compile_arguments(parser)

    def compile_from_args(self, args: argparse.Namespace, pipeline: Any,
                          notebook: Path) -> int:
        from liminal_jupyter.engines.kfp.commands import compile_kfp

        return compile_kfp(args, pipeline, notebook)

    def compile_file(self, pipeline: Any, image: str | None = None) -> CompiledFile:
        import re
        import tempfile

        from liminal_jupyter.engines.kfp.compile import CompileError, compile_pipeline

        with tempfile.TemporaryDirectory(prefix="liminal-compile-") as tmp:
            target = Path(tmp) / "pipeline.yaml"
            try:
                result = compile_pipeline(pipeline, target, image=image)
            except CompileError as exc:
                raise EngineRefused(str(exc)) from None
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", pipeline.name).strip(".-") or "pipeline"
            return CompiledFile(f"{stem}.pipeline.yaml", target.read_text(encoding="utf-8"),
                                "application/yaml", list(result.notes))


class KfpLocalEngine(LedgerEngine):
    name = "kfp-local"
    description = ("compile to KFP and run the YAML with KFP's own local runner "
                   "(kfp.local), to prove it works")
    capabilities = Capabilities(run=True)

    def run(self, request: RunRequest, reporter: Reporter) -> RunResult:
        from liminal_jupyter.engines.kfp.local_backend import KfpLocalRun

        return KfpLocalRun(request, reporter).run()


KFP = KfpEngine()
KFP_LOCAL = KfpLocalEngine()
