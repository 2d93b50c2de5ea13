"""Compile a Pipeline (the IR) to an Apache Airflow 3 DAG file, written as readable Python.

The DAG uses the current `airflow.sdk` API: one task per step, the IR's edges as task
dependencies, each pipeline parameter as a typed `Param` (DAG-run conf overrides it,
validated against the Param's JSON schema), `retries:` and `timeout:` tags as the task's
`retries` and `execution_timeout`, and the notebook's `liminal.schedule` setting as the
DAG's schedule. Nothing here imports Airflow: the file is text, so `--target airflow`
works on a machine without it.

Every task runs the step through `liminal_jupyter.engines.airflow.runtime.run_task`, which calls
the same step executor as the local runner and KFP (`python -m liminal_jupyter.step run`)
with the interpreter that runs the task. Operators:

- python (default): a PythonOperator whose callable, defined in the DAG file, hands the
  pipeline IR, the step name, `params` and `run_id` to run_task as Python values;
- bash: a BashOperator running `python -m liminal_jupyter.engines.airflow.task` (a shlex-joined
  command); what the step needs reaches it through environment variables;
- kubernetes: a KubernetesPodOperator (cncf provider) per step, with the step's image,
  resources, env, secrets, labels, annotations and the `liminal.volumes` PVCs.

User text (the IR with the notebook's code, parameter defaults and help, names) reaches
the file only through `repr()` of Python values, and templated operator fields carry it
wrapped in `literal()`, so neither Python, the shell nor Jinja ever reads it as code.
Parameter values at run time arrive as JSON (`{{ params | tojson }}`) in an environment
variable or as a Python dict, never pasted into a command line.

Artifacts: ARTIFACTS/<cleaned run id>/<step>/ holds each step's notebooks, saved values and
result. ARTIFACTS is `--artifacts`, else the notebook's `liminal.artifacts` setting, else
`.liminal/airflow` next to the notebook; a URL (s3://..., gs://...) goes through fsspec, for
workers that share no disk.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from liminal_jupyter.engines.compiling import CompileError, step_image, step_slugs
from liminal_jupyter.engines.runtime_install import (
    RuntimeInstall,
    pip_index_options,
    plan_install,
)
from liminal_jupyter.pipeline import Pipeline, Step

OPERATORS = ("python", "bash", "kubernetes")
_ENV_LIMIT = 120 * 1024  # Linux refuses a single environment string over 128 KiB
TASK_MODULE = "liminal_jupyter.engines.airflow.task"

# Airflow keys (dag_id, task_id) are [\w.-]+ of at most 250 characters; we keep to ASCII.
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean",
               "list": "array", "dict": "object"}
# Module-level names of the generated file that a task variable must not shadow.
_RESERVED = {"dag", "run_step", "step_env", "NOTEBOOK", "ARTIFACTS", "WORKDIR", "PYTHON",
             "PIPELINE_IR", "WORKSPACE", "ARTIFACTS_CONNECTION", "STEP_COMMAND", "VOLUMES",
             "VOLUME_MOUNTS"}


@dataclass
class DagOptions:
    operator: str = "python"
    artifacts: str | None = None  # a path or an fsspec URL
    # An Airflow connection id whose keys the tasks use for s3:// artifacts (storage.py);
    # the DAG file holds the id only.
    artifacts_connection: str | None = None
    image: str | None = None  # kubernetes: every step's image
    dag_id: str | None = None  # default: the pipeline name, cleaned
    # Where the workspace archive goes (default: ARTIFACTS/workspace); write_dag packs it
    # and sets `workspace` to the reference every task carries.
    workspace_uri: str | None = None
    workspace: dict[str, Any] | None = None
    # kubernetes: whether a step's pod installs liminal-jupyter when it starts (None: only
    # in a stock python image) and from which indexes (engines/runtime_install.py).
    install_runtime: bool | None = None
    index_urls: list[str] | None = None


@dataclass
class DagResult:
    path: Path
    dag_id: str
    artifacts: str
    notes: list[str] = field(default_factory=list)


def dag_id_for(name: str) -> str:
    """The pipeline name as an Airflow dag_id: runs of other characters become one '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-")
    return (cleaned or "pipeline")[:250]


def _dag_id(pipeline: Pipeline, options: DagOptions) -> str:
    if options.dag_id is None:
        return dag_id_for(pipeline.name)
    if not _KEY.match(options.dag_id):
        raise CompileError(f"dag id {options.dag_id!r} is not valid in Airflow: use letters, "
                           "digits, '_', '-' and '.', at most 250 characters")
    return options.dag_id


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def artifacts_location(pipeline: Pipeline, given: str | None = None) -> str:
    """Where run folders go: `given`, else `liminal.artifacts`, else .liminal/airflow next
    to the notebook. Paths become absolute (a setting is relative to the notebook's
    folder), since a task's working directory is not the compiler's."""
    notebook_dir = Path(pipeline.notebook).resolve().parent
    if given:
        return given if is_url(given) else str(Path(given).resolve())
    setting = pipeline.settings.get("artifacts")
    if setting:
        return setting if is_url(setting) else str((notebook_dir / setting).resolve())
    from liminal_jupyter.runs.location import liminal_dir

    return str(liminal_dir(notebook_dir) / "airflow")


# --------------------------------------------------------------------------------------
# The generated file


def generate_dag(pipeline: Pipeline, options: DagOptions | None = None) -> tuple[str, list[str]]:
    """(source of an Airflow DAG file, notes on step settings the operator cannot express)."""
    options = options or DagOptions()
    if options.operator not in OPERATORS:
        raise CompileError(f"unknown Airflow operator {options.operator!r}; choose one of "
                           f"{', '.join(OPERATORS)}")
    if not pipeline.valid:
        raise CompileError("the pipeline has errors; `liminal-nb inspect` shows them")
    for step in pipeline.steps:
        if not _KEY.match(step.name):
            raise CompileError(f"step name {step.name!r} cannot be an Airflow task_id: use "
                               "letters, digits, '_', '-' and '.'")
    fanned = [s.name for s in pipeline.steps if s.foreach]
    if fanned and options.operator != "python":
        raise CompileError(f"step(s) {', '.join(fanned)} fan out (foreach:), which the DAG "
                           "compiles to dynamic task mapping with --airflow-operator python "
                           f"only, not {options.operator}")
    slugs = step_slugs([s.name for s in pipeline.steps], _RESERVED)
    tasks = {name: f"{slug}_task" for name, slug in slugs.items()}
    kubernetes = options.operator == "kubernetes"
    artifacts = artifacts_location(pipeline, options.artifacts)
    options = replace(options, artifacts_connection=artifacts_connection(pipeline, options))
    if options.artifacts_connection:
        _check_connection(options.artifacts_connection, artifacts, options.operator)
    notes = _notes(pipeline, options.operator, artifacts)
    ir = json.dumps(replace(pipeline, diagnostics=[]).to_json(), sort_keys=True, default=str)
    version = source_version(ir, artifacts, options)
    if options.operator != "python" and len(ir.encode()) > _ENV_LIMIT:
        notes.append(f"the pipeline IR is {len(ir.encode()) // 1024} KiB: the {options.operator} "
                     "operator passes it in an environment variable, which Linux caps at "
                     "128 KiB; use --airflow-operator python, or move big cells out")

    lines = [
        '"""An Apache Airflow DAG generated by `liminal-nb compile --target airflow`.',
        "",
        "Do not edit: change the notebook and compile again. Each task runs one step of the",
        "notebook's pipeline with liminal-jupyter's step executor (the same code as",
        "`liminal-nb run`); parameters are DAG params, so a run's conf overrides them:",
        "    airflow dags trigger DAG_ID --conf '{\"name\": value}'",
        "Each run keeps its step notebooks and saved values in ARTIFACTS/<run id>/<step>/.",
        '"""',
        "",
        f"# pipeline: {pipeline.name!r}",
        f"# notebook: {pipeline.notebook!r}",
        "",
        *_imports(pipeline, options.operator),
        "",
        f"NOTEBOOK = {str(Path(pipeline.notebook).resolve())!r}",
        "# Run folders: ARTIFACTS/<cleaned run id>/<step>/ (a path, or an fsspec URL).",
        f"ARTIFACTS = {artifacts!r}",
        *([
            "# The Airflow connection whose keys the tasks use for ARTIFACTS (an id; the",
            "# keys stay in Airflow).",
            f"ARTIFACTS_CONNECTION = {options.artifacts_connection!r}",
        ] if options.operator == "python" else []),
    ]
    if kubernetes:
        lines += _volume_constants(pipeline.settings.get("volumes") or [])
    else:
        lines += [
            "# The kernels' working directory: None is a fresh temporary folder per task",
            "# holding the workspace ($LIMINAL_WORKDIR wins when set).",
            "WORKDIR = None",
            "# The interpreter that runs each step; liminal-jupyter must be installed in it.",
            "PYTHON = sys.executable",
        ]
    lines += [
        "# The pipeline IR (liminal-jupyter docs/ir.md) with the notebook's code, as JSON.",
        f"PIPELINE_IR = {ir!r}",
        "# The workspace archive (files beside the notebook the steps read): its sha256 and",
        "# location, fetched and checked by every task that needs it.",
        f"WORKSPACE = {options.workspace!r}",
        "",
        *_runner(options.operator),
        *(_elements_runner() if fanned else []),
        "",
        "with DAG(",
        f"    dag_id={_dag_id(pipeline, options)!r},",
        f"    description={(pipeline.description or pipeline.name)!r},",
        *_schedule(pipeline.settings.get("schedule")),
        "    params={",
        *[f"        {p.name!r}: {_param(p)}," for p in pipeline.parameters],
        "    },",
        # The second tag names this file's content: `liminal-nb submit` waits until the
        # API shows it, so a run is never triggered on the DAG's previous version.
        f"    tags=['liminal-jupyter', {VERSION_TAG_PREFIX + version!r}],",
        "    doc_md=__doc__,",
        ") as dag:",
    ]
    for step in pipeline.steps:
        lines += _task(step, tasks[step.name], options, pipeline)
    lines += _dependencies(pipeline, tasks)
    lines.append("")
    return "\n".join(lines), notes


VERSION_TAG_PREFIX = "liminal-version-"


def source_version(ir: str, artifacts: str, options: DagOptions) -> str:
    """A short digest of everything the DAG file is made of (IR, options, workspace)."""
    import hashlib

    made_of = [ir, artifacts, options.operator, options.image, options.dag_id,
               options.workspace, options.artifacts_connection]
    return hashlib.sha256(json.dumps(made_of, sort_keys=True, default=str).encode()
                          ).hexdigest()[:12]


def version_tag(source: str) -> str | None:
    """The `liminal-version-...` tag written into a generated DAG file's source."""
    found = re.search(r"'(" + re.escape(VERSION_TAG_PREFIX) + r"[0-9a-f]+)'", source)
    return found.group(1) if found else None


def _imports(pipeline: Pipeline, operator: str) -> list[str]:
    timed = any(s.options.timeout for s in pipeline.steps)
    scheduled = bool(pipeline.settings.get("schedule"))
    stdlib = []
    if operator != "python":
        stdlib.append("import json")
    if operator == "bash":
        stdlib.append("import shlex")
    if operator != "kubernetes":
        stdlib.append("import sys")
    names = [n for n, used in (("datetime", scheduled), ("timedelta", timed),
                               ("timezone", scheduled)) if used]
    if names:
        stdlib.append(f"from datetime import {', '.join(names)}")
    sdk = "from airflow.sdk import DAG, Param" + (", literal" if operator != "python" else "")
    airflow = [sdk]
    if operator == "python":
        airflow.append("from airflow.providers.standard.operators.python import PythonOperator")
    elif operator == "bash":
        airflow.append("from airflow.providers.standard.operators.bash import BashOperator")
    else:
        airflow += [
            "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
            "from airflow.providers.cncf.kubernetes.secret import Secret",
            "from kubernetes.client import models as k8s",
        ]
    return [*stdlib, *([""] if stdlib else []), *airflow]


def _volume_constants(volumes: list[dict[str, str]]) -> list[str]:
    """The notebook's liminal.volumes (PVCs) as pod volumes and mounts of every step."""
    claims = [
        f"    k8s.V1Volume(name={f'liminal-volume-{i}'!r}, persistent_volume_claim="
        f"k8s.V1PersistentVolumeClaimVolumeSource(claim_name={str(v['pvc'])!r})),"
        for i, v in enumerate(volumes)
    ]
    mounts = [
        f"    k8s.V1VolumeMount(name={f'liminal-volume-{i}'!r}, "
        f"mount_path={str(v['mount_path'])!r}),"
        for i, v in enumerate(volumes)
    ]
    return [
        "# The notebook's liminal.volumes: persistent volume claims mounted in every step.",
        "VOLUMES = [", *claims, "]",
        "VOLUME_MOUNTS = [", *mounts, "]",
    ]


def _runner(operator: str) -> list[str]:
    """What every task calls: a Python function, or the environment of the step command."""
    if operator == "python":
        return [
            "",
            "def run_step(step, params, run_id, ti, element=None):",
            '    """Run one step with liminal-jupyter\'s step executor, in a child PYTHON.',
            "",
            "    Imported here, not at the top, so parsing this file needs Airflow only.",
            '    """',
            "    from liminal_jupyter.engines.airflow.runtime import run_task",
            "",
            "    return run_task(PIPELINE_IR, step, dict(params), run_id, ARTIFACTS,",
            "                    python=PYTHON, workdir=WORKDIR, try_number=ti.try_number,",
            "                    workspace=WORKSPACE, element=element,",
            "                    connection=ARTIFACTS_CONNECTION)",
            "",
        ]
    lines = []
    if operator == "bash":
        lines += [f"STEP_COMMAND = shlex.join([PYTHON, '-m', {TASK_MODULE!r}])", ""]
    return [
        *lines,
        "",
        "def step_env(step):",
        '    """What `python -m liminal_jupyter.engines.airflow.task` reads; literal(): no Jinja;',
        '    params arrive as JSON in a variable, never pasted into a command."""',
        "    return {",
        "        'LIMINAL_PIPELINE': literal(PIPELINE_IR),",
        "        'LIMINAL_STEP': literal(step),",
        "        'LIMINAL_ARTIFACTS': literal(ARTIFACTS),",
        *(["        'LIMINAL_WORKDIR': literal(WORKDIR or ''),"] if operator == "bash" else []),
        "        'LIMINAL_PARAMETERS': '{{ params | tojson }}',",
        "        'LIMINAL_RUN_ID': '{{ run_id }}',",
        "        'LIMINAL_TRY_NUMBER': '{{ ti.try_number }}',",
        "        'LIMINAL_WORKSPACE': literal(json.dumps(WORKSPACE)),",
        "    }",
        "",
    ]


def _elements_runner() -> list[str]:
    """What the task before a fan-out step calls: the elements it maps the step over."""
    return [
        "def foreach_elements(step, params, run_id):",
        '    """The op_kwargs of each element of a foreach: step (dynamic task mapping):',
        "    its list checked (a list, within the step's cap), one entry per element.",
        '    """',
        "    from liminal_jupyter.engines.airflow.runtime import foreach_task_elements",
        "",
        "    return foreach_task_elements(PIPELINE_IR, step, dict(params), run_id, ARTIFACTS,",
        "                                 connection=ARTIFACTS_CONNECTION)",
        "",
    ]


def _schedule(schedule: str | None) -> list[str]:
    if not schedule:
        return ["    schedule=None,"]
    today = _dt.datetime.now(_dt.UTC).date()
    return [
        f"    schedule={schedule!r},",
        f"    start_date=datetime({today.year}, {today.month}, {today.day}, "
        "tzinfo=timezone.utc),",
        "    catchup=False,",
    ]


def _param(p: Any) -> str:
    """A typed Param: its JSON schema type, choices, bounds; None allowed when nullable."""
    schema: dict[str, Any] = {}
    kind = _JSON_TYPES.get(p.type)
    if kind:
        schema["type"] = [kind, "null"] if p.nullable or p.default is None else kind
    if p.choices is not None:
        schema["enum"] = list(p.choices) + ([None] if p.nullable else [])
    if p.minimum is not None:
        schema["minimum"] = p.minimum
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    if p.help:
        schema["description"] = p.help
    args = [repr(_plain(p.default))] + [f"{k}={_plain(v)!r}" for k, v in schema.items()]
    return f"Param({', '.join(args)})"


def _plain(value: Any) -> Any:
    """A JSON value as plain Python (its repr is a literal Python reads back as data)."""
    return json.loads(json.dumps(value))


def _task(step: Step, var: str, options: DagOptions, pipeline: Pipeline) -> list[str]:
    o = step.options
    settings = []
    if o.retries:
        settings.append(f"retries={int(o.retries)}")
    if o.timeout:
        settings.append(f"execution_timeout=timedelta(seconds={int(o.timeout)})")
    if options.operator == "python" and step.foreach:
        # Dynamic task mapping: one task instance per element, from the elements task.
        elements = f"elements_{var.removesuffix('_task')}"  # no task var is elements_*
        body = [f"task_id={step.name!r}", "python_callable=run_step", *settings]
        return ["", f"    {elements} = PythonOperator(",
                f"        task_id={step.name + '.elements'!r},",
                "        python_callable=foreach_elements,",
                f"        op_kwargs={{'step': {step.name!r}}},", "    )",
                f"    {var} = PythonOperator.partial(",
                *[f"        {item}," for item in body],
                f"    ).expand(op_kwargs={elements}.output)"]
    if options.operator == "python":
        head = ["python_callable=run_step", f"op_kwargs={{'step': {step.name!r}}}"]
        kind = "PythonOperator"
    elif options.operator == "bash":
        head = ["bash_command=literal(STEP_COMMAND)", f"env=step_env({step.name!r})",
                "append_env=True"]
        kind = "BashOperator"
    else:
        head = _pod_settings(step, options, pipeline)
        kind = "KubernetesPodOperator"
    body = [f"task_id={step.name!r}", *head, *settings]
    return ["", f"    {var} = {kind}(", *[f"        {item}," for item in body], "    )"]


def _pod_settings(step: Step, options: DagOptions, pipeline: Pipeline) -> list[str]:
    o = step.options
    image = step_image(step, pipeline, options.image)
    env = f"step_env({step.name!r})"
    if o.env:
        env = f"{{**{env}, **{dict(o.env)!r}}}"
    install = plan_install(str(image), pipeline.settings, install=options.install_runtime,
                           urls=options.index_urls)
    if install is None:
        command = f"cmds=['python', '-m', {TASK_MODULE!r}]"
    else:  # a stock image: the pod installs what the step needs, then runs it
        command = f"cmds=['sh', '-c', {_installing_command(install)!r}]"
    out = [f"image={str(image)!r}", command, f"env_vars={env}"]
    limits = {}
    if o.cpu:
        limits["cpu"] = str(o.cpu)
    if o.memory:
        limits["memory"] = str(o.memory)
    if o.gpu:
        limits[o.gpu_resource] = str(int(o.gpu))
    limits.update({str(k): str(v) for k, v in o.limits.items()})
    if limits:
        out.append(f"container_resources=k8s.V1ResourceRequirements(limits={limits!r})")
    if o.secrets:
        secrets = ", ".join(f"Secret('env', {s.env!r}, {s.name!r}, {s.key!r})"
                            for s in o.secrets)
        out.append(f"secrets=[{secrets}]")
    if o.labels:
        out.append(f"labels={dict(o.labels)!r}")
    if o.annotations:
        out.append(f"annotations={dict(o.annotations)!r}")
    if pipeline.settings.get("volumes"):
        out += ["volumes=VOLUMES", "volume_mounts=VOLUME_MOUNTS"]
    out.append("get_logs=True")
    return out


def _installing_command(install: RuntimeInstall) -> str:
    """The pod's shell command in a stock image: the runtime's dependencies and the
    notebook's requirements, liminal-jupyter itself without its own, then the step. Every
    word is quoted for the shell (the index URLs are checked too)."""
    import shlex

    pip = ["python", "-m", "pip", "install", "--quiet", "--no-warn-script-location",
           *pip_index_options(install.index_urls)]
    return " && ".join([shlex.join([*pip, *install.packages]),
                        shlex.join([*pip, "--no-deps", install.liminal]),
                        "exec " + shlex.join(["python", "-m", TASK_MODULE])])


def _dependencies(pipeline: Pipeline, tasks: dict[str, str]) -> list[str]:
    """One line per step with upstream steps, in run order: `a >> b` or `[a, b] >> c`."""
    lines = []
    names = {s.name for s in pipeline.steps}
    for name in pipeline.order():
        step = pipeline.step(name)
        upstream = [tasks[s.name] for s in pipeline.steps if s.name in step.upstream & names]
        if not upstream:
            continue
        left = upstream[0] if len(upstream) == 1 else f"[{', '.join(upstream)}]"
        # A fan-out's elements task reads what the step reads: it runs after the same steps
        # (and the step after it, through the XComArg it maps over).
        target = f"elements_{tasks[name].removesuffix('_task')}" if step.foreach \
            else tasks[name]
        lines.append(f"    {left} >> {target}")
    return [""] + lines if lines else []


def artifacts_connection(pipeline: Pipeline, options: DagOptions) -> str | None:
    """--artifacts-connection, else the notebook's liminal.airflow artifacts_connection."""
    if options.artifacts_connection:
        return options.artifacts_connection
    from liminal_jupyter.engines.airflow.submit import settings_of

    found = settings_of(pipeline).get("artifacts_connection")
    return str(found) if found else None


def _check_connection(conn_id: str, artifacts: str, operator: str) -> None:
    """An artifacts connection is read by the task through Airflow's Task SDK, which only
    a python-operator task has (a bash or pod step is a plain process)."""
    from liminal_jupyter.engines.airflow.storage import (
        ArtifactsConnectionError,
        check_connection_id,
    )

    if operator != "python":
        raise CompileError(f"--artifacts-connection works with --airflow-operator python "
                           f"only, not {operator}: a {operator} step is a plain process "
                           "that cannot read Airflow connections; give its workers AWS_* "
                           "variables (or a kubernetes Secret through liminal.secrets)")
    try:
        check_connection_id(conn_id, artifacts)
    except ArtifactsConnectionError as exc:
        raise CompileError(str(exc)) from None


def _notes(pipeline: Pipeline, operator: str, artifacts: str) -> list[str]:
    """What the chosen operator leaves out, said once per step."""
    notes = []
    if operator != "kubernetes":
        for step in pipeline.steps:
            o = step.options
            pod_only = [name for name, value in (
                ("image:", o.image), ("cpu:", o.cpu), ("memory:", o.memory), ("gpu:", o.gpu),
                ("secret:", o.secrets), ("label:", o.labels), ("annotation:", o.annotations),
                ("limit:", o.limits)) if value]
            if pod_only:
                notes.append(f"step '{step.name}': {', '.join(pod_only)} apply to "
                             "--airflow-operator kubernetes only")
        if pipeline.settings.get("volumes"):
            notes.append("liminal.volumes apply to --airflow-operator kubernetes only")
    elif not is_url(artifacts):
        notes.append(f"artifacts go to {artifacts}, a path: every pod must see it (a "
                     "volume in liminal.volumes), or pass --artifacts s3://... (fsspec)")
    if pipeline.settings.get("requirements"):
        notes.append("liminal.requirements are not installed by the DAG: install them where "
                     "the tasks run (the worker's environment or the image)")
    return notes


# --------------------------------------------------------------------------------------
# Writing


def default_dag_path(notebook: str | Path, pipeline: Pipeline) -> Path:
    """dags/<dag_id>.py next to the notebook."""
    return Path(notebook).parent / "dags" / f"{dag_id_for(pipeline.name)}.py"


def write_dag(pipeline: Pipeline, path: str | Path,
              options: DagOptions | None = None) -> DagResult:
    """Write the DAG file atomically; CompileError when the pipeline cannot be compiled."""
    from liminal_jupyter.atomic import atomic_write_text
    from liminal_jupyter.engines.workspace import packed_workspace

    options = options or DagOptions()
    if options.workspace is None and pipeline.valid:
        # Next to the run folders: every worker that can read those can read it.
        target = options.workspace_uri or \
            artifacts_location(pipeline, options.artifacts).rstrip("/") + "/workspace"
        workspace, packed_notes = packed_workspace(pipeline, uri=options.workspace_uri,
                                                   default_uri=target, embed=False)
        options = replace(options, workspace=workspace)
    else:
        packed_notes = []
    source, notes = generate_dag(pipeline, options)
    notes = packed_notes + notes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, source)
    return DagResult(path, _dag_id(pipeline, options),
                     artifacts_location(pipeline, options.artifacts), notes)
