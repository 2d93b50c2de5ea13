"""Compile a Pipeline (the IR) to Kubeflow Pipelines v2 IR YAML, through the kfp SDK.

The YAML is never written by hand: `generate_module` writes a readable KFP DSL module (one
lightweight `@dsl.component` per step plus one `@dsl.pipeline` that wires them), and
`compile_pipeline` imports it and hands the pipeline function to `kfp.compiler.Compiler`.
kfp needs each component's source in a real file (`inspect.getsource`), hence a module
file, written to `python_path` (`liminal-nb compile --python`) or a temporary folder.

Per step component:
- one typed KFP parameter per pipeline parameter the step reads (int, float, str, bool,
  list, dict; 'any' travels as a JSON string; a parameter whose default is None is
  optional, and when unset the notebook's parameters cell keeps its own default);
- `from_<producer>: Input[Dataset]` per upstream step it reads data from (that step's
  output folder), `step_outputs: Output[Dataset]`, `executed_notebook: Output[Artifact]`
  (the executed .ipynb), `executed_html: Output[HTML]` (the same notebook as a standalone
  page, which the KFP UI shows among the step's visualizations), for a step with metrics,
  `step_metrics: Output[Metrics]` and,
  per `model:VAR`, `model_<VAR>: Output[Model]` (a copy of the saved variable, with
  marshaller, variable, registered_name and framework in its metadata);
- a body that calls `liminal_jupyter.engines.kfp.runtime.run_step` with the pipeline IR embedded
  as a JSON string literal. Every user-supplied text reaches the module only through
  `repr()` of a str, so a value can never become code.

Step options become task settings: retries:N -> set_retry, cpu/memory -> limits, gpu ->
accelerator type and limit, cache:off -> set_caching_options(False), env:K=V ->
set_env_variable, image:REF -> the component's base image; through kfp-kubernetes (the
module imports `kfp.kubernetes` only when needed; the platform config is the YAML's second
document): secret:NAME:KEY:ENV -> use_secret_as_env, label:K:V -> add_pod_label,
annotation:K:V -> add_pod_annotation, timeout: -> set_timeout (the pod's deadline; also
papermill's per-cell limit inside the step), and the notebook's `liminal.volumes` setting
-> mount_pvc on every step. Other Kale limit: resources are returned as notes.

The image is --image, else a step's image: tag, else the notebook's `liminal.image` setting,
else DEFAULT_IMAGE. An image `liminal-nb image` built has liminal-jupyter, kfp and the
notebook's `liminal.requirements`; a stock Python image has none of them, so its step
installs them when it starts (engines/runtime_install.py): the in-step runtime's
dependencies, kfp and the requirements as `packages_to_install` (from --index-url when
given), then liminal-jupyter itself, without its dependencies, at the exact version that
compiled the step (pip has no per-requirement --no-deps, so the component's code does it).
`--install-runtime` / `--no-install-runtime` (or liminal.install_runtime) decide for any
image.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from liminal_jupyter.engines.compiling import CompileError, step_image, step_slugs
from liminal_jupyter.engines.runtime_install import (
    RuntimeInstall,
    checked_requirements,
    pip_index_options,
    plan_install,
)
from liminal_jupyter.pipeline import Pipeline, Step

_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "list": "list",
          "dict": "dict", "any": "str"}
_RESERVED = {"step_outputs", "executed_notebook", "executed_html", "HTML", "step_metrics",
             "foreach_element", "List", "dsl", "Input", "Output",
             "Dataset", "Artifact", "Metrics", "Model", "NamedTuple", "Optional",
             "PipelineOutputs", "kubernetes"}
NEEDS_KFP_KUBERNETES = (
    "secret:, label: and annotation: tags and the liminal.volumes setting need the "
    "kfp-kubernetes package: pip install 'liminal-jupyter[kubernetes]'"
)


@dataclass
class CompileResult:
    yaml_path: Path
    python_path: Path | None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Names


def kfp_pipeline_name(name: str) -> str:
    """KFP pipeline names match ^[a-z0-9][a-z0-9-]{0,127}$ (kfp.dsl.utils): lowercase,
    every run of other characters becomes one '-', at most 128 characters; accents are
    dropped first (NFKD), so 'Ünïcode' -> 'unicode'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return (cleaned or "pipeline")[:128].rstrip("-")


def _literal(value: Any) -> str:
    """Python source for a JSON value (parameter defaults are JSON values)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, (list, dict)):
        return f"json.loads({json.dumps(value)!r})"
    return repr(value)


# --------------------------------------------------------------------------------------
# The generated module


def generate_module(pipeline: Pipeline, image: str | None = None,
                    workspaces: dict[str, dict[str, Any]] | None = None, *,
                    install_runtime: bool | None = None,
                    index_urls: list[str] | None = None) -> tuple[str, list[str]]:
    """(source of a KFP DSL module defining `pipeline_func`, notes on what was left out).

    workspaces: step name -> the reference of the archive of its workspace files
    (engines/workspace.py), given to the steps that name files.
    install_runtime / index_urls: whether steps install liminal-jupyter when they start
    (None: only in a stock image) and from where (runtime_install.plan_install)."""
    if not pipeline.valid:
        raise CompileError("the pipeline has errors; `liminal-nb inspect` shows them")
    notes: list[str] = []
    # timeout: becomes the pod's deadline where kfp-kubernetes is installed; without it, the
    # step's own per-cell limit inside the pod is all there is (the SDK has no task timeout).
    timed = [s.name for s in pipeline.steps if s.options.timeout]
    pod_deadlines = bool(timed) and have_kfp_kubernetes()
    if timed and not pod_deadlines:
        notes.append(f"timeout: of step(s) {', '.join(timed)} is enforced per cell inside the "
                     "pod only; pip install 'liminal-jupyter[kubernetes]' for a pod deadline")
    params = {p.name: p for p in pipeline.parameters}
    clash = sorted(set(params) & _RESERVED)
    if clash:
        raise CompileError(f"parameter name(s) {', '.join(clash)} are reserved by the KFP "
                           "compiler; rename them in the parameters cell")
    # Generated names derive from one slug per step (see step_slugs): unique, valid
    # Python and valid for KFP whatever the step is called.
    args = step_slugs([s.name for s in pipeline.steps],
                      set(params) | _RESERVED | {"json", "pipeline_func"})
    funcs = {name: "step_" + slug for name, slug in args.items()}
    # Each component carries the IR it needs: the pipeline with its own step only (a
    # component's source must be self-contained; the whole IR in each would repeat it).
    ir = {
        s.name: json.dumps(replace(pipeline, steps=[s], diagnostics=[]).to_json(),
                           sort_keys=True, default=str)
        for s in pipeline.steps
    }
    requirements = checked_requirements(pipeline.settings)

    lines = [
        '"""A KFP v2 pipeline generated by `liminal-nb compile`. Do not edit: change the',
        "notebook and compile again. Each step is a lightweight Python component that runs",
        "the step's cells with liminal_jupyter's step executor (kfp.runtime.run_step).",
        '"""',
        f"# pipeline: {pipeline.name!r}",
        f"# notebook: {pipeline.notebook!r}",
        "",
        "import json",
        "from typing import List, NamedTuple, Optional",
        "",
        "from kfp import dsl",
        "from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output",
        *(["from kfp import kubernetes"] if _needs_kubernetes(pipeline)
          or pod_deadlines else []),
        "",
        f"PACKAGES = {requirements!r}",
        "",
    ]
    installs = []
    for step in pipeline.steps:
        the_image = step_image(step, pipeline, image)
        install = plan_install(the_image, pipeline.settings, install=install_runtime,
                               urls=index_urls)
        if install:
            installs.append(step.name)
        lines += _component(step, funcs[step.name], args, params, the_image, ir[step.name],
                            model_outputs(step, set(params)),
                            (workspaces or {}).get(step.name), install, pipeline)
        if step.foreach:
            lines += _elements_component(step, "elements_" + args[step.name], args, params,
                                         the_image, ir[step.name], install, pipeline)
        notes += _left_out(step)
    if installs:
        notes.append(f"step(s) {', '.join(installs)} install liminal-jupyter and the "
                     "notebook's requirements when they start (a stock image); "
                     "`liminal-nb image` builds an image that starts faster")

    # A fan-out step's metrics stay on its elements' tasks (each logs its own).
    metric_steps = [s for s in pipeline.steps if s.metrics and not s.foreach]
    outputs_type = [(f"{args[s.name]}_metrics", "Metrics") for s in metric_steps]
    if outputs_type:
        fields_src = ", ".join(f"({n!r}, {t})" for n, t in outputs_type)
        lines += [f"PipelineOutputs = NamedTuple('PipelineOutputs', [{fields_src}])", "", ""]
    signature = []
    for p in pipeline.parameters:
        kind = _TYPES.get(p.type, "str")
        default = json.dumps(p.default) if p.type == "any" else p.default
        if p.type == "float" and isinstance(default, int) and not isinstance(default, bool):
            default = float(default)
        if default is None:
            signature.append(f"    {p.name}: Optional[{kind}] = None,")
        else:
            signature.append(f"    {p.name}: {kind} = {_literal(default)},")
    lines += [
        f"@dsl.pipeline(name={kfp_pipeline_name(pipeline.name)!r}, "
        f"description={(pipeline.description or pipeline.name)!r})",
        "def pipeline_func(",
        *signature,
        ")" + (" -> PipelineOutputs:" if outputs_type else ":"),
    ]
    tasks = {s.name: f"{args[s.name]}_task" for s in pipeline.steps}
    for name in pipeline.order():
        step = pipeline.step(name)
        task = _task(step, funcs[name], tasks, args, pipeline.settings.get("volumes") or [],
                     pod_deadlines, pipeline)
        if step.foreach:
            task = _fan_out(step, "elements_" + args[name], tasks, args, task, pipeline)
        lines += task
    if outputs_type:
        returned = ", ".join(f"{args[s.name]}_metrics={tasks[s.name]}.outputs['step_metrics']"
                             for s in metric_steps)
        lines.append(f"    return PipelineOutputs({returned})")
    elif not pipeline.steps:
        lines.append("    pass")
    lines.append("")
    return "\n".join(lines), notes


def _needs_kubernetes(pipeline: Pipeline) -> bool:
    """Settings only kfp-kubernetes can express: secrets, pod labels/annotations, PVCs."""
    if pipeline.settings.get("volumes"):
        return True
    return any(s.options.secrets or s.options.labels or s.options.annotations
               for s in pipeline.steps)


def model_outputs(step: Step, avoid: set[str] = frozenset()) -> dict[str, str]:
    """model:VAR variable -> the name of its `Output[Model]` (`model_<VAR>`, then
    `model_<VAR>_2`, ... if that name is taken by a parameter or a reserved name)."""
    names: dict[str, str] = {}
    taken = set(avoid) | _RESERVED
    for model in step.models:
        if model.variable in names:
            continue
        base = f"model_{model.variable}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names[model.variable] = name
    return names


def _component(step: Step, func: str, args: dict[str, str], params: dict, image: str,
               ir: str, models: dict[str, str],
               workspace: dict[str, Any] | None = None,
               install: RuntimeInstall | None = None,
               pipeline: Pipeline | None = None) -> list[str]:
    read = [i.name for i in step.inputs if i.kind == "parameter" and i.name in params]
    producers = step.producers
    fanned = _fanned_out(pipeline)
    sig = []
    for name in read:
        p = params[name]
        kind = _TYPES.get(p.type, "str")
        sig.append(f"    {name}: Optional[{kind}] = None," if p.default is None
                   else f"    {name}: {kind},")
    # Required arguments first, optional (default None) ones last.
    head = [s for s in sig if not s.endswith("= None,")]
    tail = [s for s in sig if s.endswith("= None,")]
    sig = head + [f"    from_{args[p]}: Input[List[Dataset]]," if p in fanned
                  else f"    from_{args[p]}: Input[Dataset]," for p in producers]
    if step.foreach:
        sig.append("    foreach_element: int,")
    sig += ["    step_outputs: Output[Dataset],", "    executed_notebook: Output[Artifact],",
            "    executed_html: Output[HTML],"]
    if step.metrics:
        sig.append("    step_metrics: Output[Metrics],")
    sig += [f"    {name}: Output[Model]," for name in models.values()]
    sig += tail
    parameters = "{" + ", ".join(f"{n!r}: {n}" for n in read) + "}"
    inputs = _inputs_literal(producers, args, fanned)
    decorator, importing = _decorator(image, install)
    return [
        "",
        decorator,
        f"def {func}(",
        *sig,
        "):",
        f'    """Step {step.name!r}: runs its notebook cells with the liminal step executor."""',
        *importing,
        "",
        "    run_step(",
        f"        ir={ir!r},",
        f"        step={step.name!r},",
        f"        parameters={parameters},",
        f"        inputs={inputs},",
        "        step_outputs=step_outputs,",
        "        executed_notebook=executed_notebook,",
        "        executed_html=executed_html,",
        f"        metrics={'step_metrics' if step.metrics else 'None'},",
        *([f"        models={{{', '.join(f'{v!r}: {n}' for v, n in models.items())}}},"]
          if models else []),
        *([f"        workspace={workspace!r},"] if workspace and step.files else []),
        *(["        element=foreach_element,"] if step.foreach else []),
        "    )",
        "",
    ]


def _fanned_out(pipeline: Pipeline | None) -> set[str]:
    """The steps that run once per element (foreach:): readers collect their outputs."""
    return {s.name for s in pipeline.steps if s.foreach} if pipeline else set()


def _inputs_literal(producers: list[str], args: dict[str, str], fanned: set[str]) -> str:
    """{producer: its output folder} (a list of folders, one per element, for a fan-out)."""
    return "{" + ", ".join(
        f"{p!r}: [d.path for d in from_{args[p]}]" if p in fanned else f"{p!r}: from_{args[p]}.path"
        for p in producers) + "}"


def _elements_component(step: Step, func: str, args: dict[str, str], params: dict,
                        image: str, ir: str, install: RuntimeInstall | None,
                        pipeline: Pipeline) -> list[str]:
    """The task before a fan-out: checks NAME is a list within the cap (a one-line error
    naming the step and NAME's type otherwise) and returns its indices, which
    dsl.ParallelFor runs the step's component over."""
    source = next(i for i in step.inputs if i.name == step.foreach)
    fanned = _fanned_out(pipeline)
    if source.kind == "parameter":
        p = params[source.name]
        kind = _TYPES.get(p.type, "str")
        sig = [f"    {source.name}: Optional[{kind}] = None," if p.default is None
               else f"    {source.name}: {kind},"]
        parameters, inputs = f"{{{source.name!r}: {source.name}}}", "{}"
    else:
        producer = source.producer
        sig = [f"    from_{args[producer]}: Input[List[Dataset]]," if producer in fanned
               else f"    from_{args[producer]}: Input[Dataset],"]
        parameters, inputs = "{}", _inputs_literal([producer], args, fanned)
    decorator, importing = _decorator(image, install, "foreach_elements")
    return [
        "",
        decorator,
        f"def {func}(",
        *sig,
        ") -> list:",
        f'    """The elements step {step.name!r} runs over (foreach:{step.foreach})."""',
        *importing,
        "",
        "    return foreach_elements(",
        f"        ir={ir!r},",
        f"        step={step.name!r},",
        f"        parameters={parameters},",
        f"        inputs={inputs},",
        "    )",
        "",
    ]


def _fan_out(step: Step, func: str, tasks: dict[str, str], args: dict[str, str],
             task: list[str], pipeline: Pipeline) -> list[str]:
    """The step's task inside a dsl.ParallelFor over the indices its elements task
    returns, each with its own `foreach_element`."""
    source = next(i for i in step.inputs if i.name == step.foreach)
    var = f"{args[step.name]}_elements_task"
    if source.kind == "parameter":
        call = f"{source.name}={source.name}"
    else:
        call = f"from_{args[source.producer]}=" + _output_expr(source.producer, tasks,
                                                              _fanned_out(pipeline))
    return [
        f"    {var} = {func}({call})",
        f"    {var}.set_display_name({(step.name + ' (elements)')!r})",
        f"    with dsl.ParallelFor(items={var}.output) as element:",
        *["    " + line for line in task],
    ]


def _output_expr(producer: str, tasks: dict[str, str], fanned: set[str]) -> str:
    expr = f"{tasks[producer]}.outputs['step_outputs']"
    return f"dsl.Collected({expr})" if producer in fanned else expr


def _decorator(image: str, install: RuntimeInstall | None,
               function: str = "run_step") -> tuple[str, list[str]]:
    """The component's decorator, and the lines that import `function` from our runtime."""
    if install:
        # kfp installs its own version (the one compiling) after the packages.
        decorator = (f"@dsl.component(base_image={image!r}, "
                     f"packages_to_install={install.packages!r}"
                     # kfp would add each index as --trusted-host (no TLS check): not ours
                     + (f", pip_index_urls={install.index_urls!r}, pip_trusted_hosts=[])"
                        if install.index_urls else ")"))
        return decorator, _installing_import(install, function)
    decorator = (f"@dsl.component(base_image={image!r}, install_kfp_package=False, "
                 "packages_to_install=PACKAGES)")
    missing = (f"image {image!r} has no liminal-jupyter: build one with `liminal-nb image "
               "NOTEBOOK`, or compile with --install-runtime so the step installs it "
               "when it starts")
    return decorator, [
        "    try:",
        f"        from liminal_jupyter.engines.kfp.runtime import {function}",
        "    except ModuleNotFoundError as missing:",
        f"        raise RuntimeError({missing!r}) from missing",
    ]


def _installing_import(install: RuntimeInstall, function: str = "run_step") -> list[str]:
    """The component's first lines in a stock image: liminal-jupyter installed without
    its dependencies (packages_to_install brought the runtime's), unless already there."""
    command = ["-m", "pip", "install", "--quiet", "--no-warn-script-location", "--no-deps",
               *pip_index_options(install.index_urls), install.liminal]
    return [
        "    import importlib.util",
        "    import subprocess",
        "    import sys",
        "",
        "    if importlib.util.find_spec('liminal_jupyter') is None:",
        f"        subprocess.run([sys.executable, {', '.join(map(repr, command))}], check=True)",
        f"    from liminal_jupyter.engines.kfp.runtime import {function}",
    ]


def _task(step: Step, func: str, tasks: dict[str, str], args: dict[str, str],
          volumes: list[dict[str, str]], pod_deadlines: bool,
          pipeline: Pipeline | None = None) -> list[str]:
    var = tasks[step.name]
    read = [i.name for i in step.inputs if i.kind == "parameter"]
    producers = step.producers
    call = [f"{n}={n}" for n in read]
    call += [f"from_{args[p]}={_output_expr(p, tasks, _fanned_out(pipeline))}"
             for p in producers]
    if step.foreach:
        call.append("foreach_element=element")  # the loop variable of _fan_out
    out = [f"    {var} = {func}({', '.join(call)})",
           f"    {var}.set_display_name({step.name!r})"]
    for before in step.after:
        if before not in producers:
            out.append(f"    {var}.after({tasks[before]})")
    o = step.options
    if o.retries:
        out.append(f"    {var}.set_retry(num_retries={int(o.retries)})")
    if o.cpu:
        out.append(f"    {var}.set_cpu_limit({str(o.cpu)!r})")
    if o.memory:
        out.append(f"    {var}.set_memory_limit({str(o.memory)!r})")
    if o.gpu:
        out.append(f"    {var}.set_accelerator_type({o.gpu_resource!r})")
        out.append(f"    {var}.set_accelerator_limit({int(o.gpu)})")
    if not o.cache:
        out.append(f"    {var}.set_caching_options(False)")
    for key, value in o.env.items():
        out.append(f"    {var}.set_env_variable({key!r}, {str(value)!r})")
    for secret in o.secrets:
        out.append(f"    kubernetes.use_secret_as_env({var}, secret_name={str(secret.name)!r}, "
                   f"secret_key_to_env={{{str(secret.key)!r}: {str(secret.env)!r}}})")
    if o.timeout and pod_deadlines:
        out.append(f"    kubernetes.set_timeout({var}, {int(o.timeout)})")
    for key, value in o.labels.items():
        out.append(f"    kubernetes.add_pod_label({var}, {str(key)!r}, {str(value)!r})")
    for key, value in o.annotations.items():
        out.append(f"    kubernetes.add_pod_annotation({var}, {str(key)!r}, {str(value)!r})")
    for volume in volumes:
        out.append(f"    kubernetes.mount_pvc({var}, pvc_name={str(volume['pvc'])!r}, "
                   f"mount_path={str(volume['mount_path'])!r})")
    return out


def _left_out(step: Step) -> list[str]:
    o, notes = step.options, []
    for key in o.limits:
        notes.append(f"step '{step.name}': resource limit {key} is not compiled")
    return notes


# --------------------------------------------------------------------------------------
# Compiling


def load_module(path: Path) -> Any:
    """Import a generated module from its file (kfp reads component source from it)."""
    name = f"liminal_kfp_generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def compile_pipeline(
    pipeline: Pipeline,
    yaml_path: str | Path,
    *,
    image: str | None = None,
    python_path: str | Path | None = None,
    workspace_uri: str | None = None,
    default_workspace_uri: str | None = None,
    install_runtime: bool | None = None,
    index_urls: list[str] | None = None,
) -> CompileResult:
    """Write KFP v2 IR YAML for `pipeline` (and the DSL module, when python_path is given).

    The workspace files the steps name travel inside the YAML when small, else are stored
    at `workspace_uri` (or liminal.workspace_uri, or `default_workspace_uri`). Steps in a
    stock image install liminal-jupyter when they start (install_runtime forces it either
    way; index_urls: where from), see runtime_install.py.
    Raises CompileError when the pipeline is invalid, a workspace file is missing or kfp
    refuses a setting.
    """
    from google.protobuf import json_format
    from kfp import compiler

    from liminal_jupyter.atomic import atomic_write_text
    from liminal_jupyter.engines.workspace import step_workspaces

    if not pipeline.valid:
        raise CompileError("the pipeline has errors; `liminal-nb inspect` shows them")
    workspaces, notes = step_workspaces(pipeline, uri=workspace_uri,
                                        default_uri=default_workspace_uri)
    source, more = generate_module(pipeline, image, workspaces,
                                   install_runtime=install_runtime, index_urls=index_urls)
    notes += more
    if _needs_kubernetes(pipeline) and not have_kfp_kubernetes():
        raise CompileError(NEEDS_KFP_KUBERNETES)
    yaml_path = Path(yaml_path)
    with tempfile.TemporaryDirectory(prefix="liminal-kfp-") as tmp:
        module_path = Path(tmp) / "pipeline_kfp.py"
        module_path.write_text(source, encoding="utf-8")
        try:
            module = load_module(module_path)
            staged = Path(tmp) / "pipeline.yaml"
            compiler.Compiler().compile(module.pipeline_func, package_path=str(staged))
            # kfp's own YAML header can be broken (see _to_yaml): take the specs it wrote
            # from the compiled pipeline instead of parsing that file.
            spec = json_format.MessageToDict(module.pipeline_func.pipeline_spec)
            platform = json_format.MessageToDict(module.pipeline_func.platform_spec)
        except Exception as exc:  # kfp validates names, resources, types
            raise CompileError(f"kfp could not compile pipeline '{pipeline.name}': "
                               f"{type(exc).__name__}: {exc}") from exc
        yaml_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(yaml_path, _to_yaml(spec, pipeline.description or pipeline.name,
                                              platform))
    written_py = None
    if python_path is not None:
        written_py = Path(python_path)
        written_py.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(written_py, source)
    return CompileResult(yaml_path, written_py, notes)


def have_kfp_kubernetes() -> bool:
    try:
        return importlib.util.find_spec("kfp.kubernetes") is not None
    except ImportError:
        return False


def _to_yaml(spec: dict[str, Any], description: str,
             platform: dict[str, Any] | None = None) -> str:
    """The compiled spec as kfp writes it: its comment header, then `yaml.dump(sort_keys)`,
    then the platform spec (kfp-kubernetes settings) as a second document when there is one.

    kfp 2.17 pastes parameter defaults and the description into its header comment as they
    are, so a value with a newline breaks the YAML; here every header line stays a comment.
    """
    import yaml
    from kfp.compiler import pipeline_spec_builder

    try:
        header = pipeline_spec_builder.extract_comments_from_pipeline_spec(spec, description)
    except Exception:  # a private helper: the header is only a courtesy
        header = ""
    lines = [line if line.startswith("#") else "#    " + line
             for line in header.splitlines()]
    text = "\n".join(lines) + ("\n" if lines else "")
    documents = [spec, platform] if platform and platform.get("platforms") else [spec]
    return text + yaml.dump_all(documents, sort_keys=True)
