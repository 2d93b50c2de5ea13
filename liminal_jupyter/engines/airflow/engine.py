"""airflow: the compiled DAG run by `airflow dags test` on this machine, and
`liminal-nb compile --target airflow`."""

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
)

if TYPE_CHECKING:
    from liminal_jupyter.runs.progress import Reporter


class AirflowLocalEngine(LedgerEngine):
    name = "airflow"
    description = ("compile to an Apache Airflow 3 DAG and run it with `airflow dags test` "
                   "(needs pip install 'liminal-jupyter[airflow]')")
    capabilities = Capabilities(run=True, compile=True)

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
