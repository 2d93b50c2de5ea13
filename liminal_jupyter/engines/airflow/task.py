"""`python -m liminal_jupyter.engines.airflow.task`: one step of a compiled DAG, for the bash and
kubernetes operators.

Everything comes from environment variables, which the DAG sets and no shell parses:
LIMINAL_PIPELINE (the pipeline IR, JSON), LIMINAL_STEP, LIMINAL_PARAMETERS (the run's
params, JSON), LIMINAL_RUN_ID, LIMINAL_ARTIFACTS (a path or an fsspec URL), and optionally
LIMINAL_TRY_NUMBER, LIMINAL_WORKDIR and LIMINAL_WORKSPACE (the workspace archive's
reference, JSON). Exit codes: 0 the step succeeded, 1 it failed (its
one-paragraph error on stderr), 2 a variable is missing or not valid JSON.
"""

from __future__ import annotations

import json
import os
import sys

REQUIRED = ("LIMINAL_PIPELINE", "LIMINAL_STEP", "LIMINAL_PARAMETERS", "LIMINAL_RUN_ID",
            "LIMINAL_ARTIFACTS")


def main(environ: dict[str, str] | None = None) -> int:
    from liminal_jupyter.startup import skip_slow_optional_imports

    skip_slow_optional_imports()  # Airflow's own task process may have imported it already
    from liminal_jupyter.engines.airflow.runtime import StepFailed, run_task

    env = dict(os.environ if environ is None else environ)
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        print(f"error: {', '.join(missing)} not set; this command runs a step of a DAG "
              "written by `liminal-nb compile --target airflow`", file=sys.stderr)
        return 2
    try:
        params = json.loads(env["LIMINAL_PARAMETERS"])
        json.loads(env["LIMINAL_PIPELINE"])
        workspace = json.loads(env.get("LIMINAL_WORKSPACE") or "null")
    except ValueError as exc:
        print("error: LIMINAL_PARAMETERS, LIMINAL_PIPELINE or LIMINAL_WORKSPACE is not valid "
              f"JSON ({exc})", file=sys.stderr)
        return 2
    try_number = env.get("LIMINAL_TRY_NUMBER", "")
    try:
        metrics = run_task(env["LIMINAL_PIPELINE"], env["LIMINAL_STEP"], params,
                           env["LIMINAL_RUN_ID"], env["LIMINAL_ARTIFACTS"],
                           workdir=env.get("LIMINAL_WORKDIR") or None,
                           try_number=int(try_number) if try_number.isdigit() else None,
                           workspace=workspace)
    except StepFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"step '{env['LIMINAL_STEP']}' succeeded; metrics: {json.dumps(metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
