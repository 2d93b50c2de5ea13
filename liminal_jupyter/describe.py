"""A pipeline as text for a terminal: what `liminal-nb inspect` prints.

Plain text with no colour library, so it is fast to import and reads the same in a log.
"""

from __future__ import annotations

import json

from liminal_jupyter.pipeline import Pipeline, Step, StepOptions


def describe(pipeline: Pipeline) -> str:
    lines = [f"Pipeline {pipeline.name}  ({pipeline.notebook}, kernel {pipeline.kernel})"]
    if pipeline.description:
        lines.append(f"  {pipeline.description}")
    lines.append("")
    lines += _parameters(pipeline)
    lines += _prelude(pipeline)
    lines.append(f"Steps ({len(pipeline.steps)})")
    order = pipeline.order() if pipeline.valid else [s.name for s in pipeline.steps]
    for number, name in enumerate(order, start=1):
        lines += _step(number, pipeline.step(name))
    lines += _diagnostics(pipeline)
    return "\n".join(lines)


def _parameters(pipeline: Pipeline) -> list[str]:
    if not pipeline.parameters:
        return ["Parameters: none (tag a cell 'parameters' to add some)", ""]
    lines = ["Parameters"]
    width = max(len(p.name) for p in pipeline.parameters)
    for p in pipeline.parameters:
        kind = p.type + ("?" if p.nullable and p.type != "any" else "")
        text = f"  {p.name:<{width}}  {kind:<6} = {json.dumps(p.default, ensure_ascii=False)}"
        if p.choices:
            text += f"  one of {json.dumps(p.choices, ensure_ascii=False)}"
        if p.minimum is not None:
            text += f"  in [{p.minimum:g}, {p.maximum:g}]"
        if p.help:
            text += f"  # {p.help}"
        lines.append(text)
    return lines + [""]


def _prelude(pipeline: Pipeline) -> list[str]:
    if pipeline.notebooks:  # a pipeline file: each notebook's steps run its own prelude
        lines = ["Notebooks (each step runs its own notebook's imports and functions)"]
        for part in pipeline.notebooks:
            steps = [s.name for s in pipeline.steps if s.notebook == part.path]
            cells = ", ".join(str(c.index + 1) for c in part.prelude) or "none"
            lines.append(f"  {part.path}: steps {', '.join(steps) or 'none'}; "
                         f"prelude cells {cells}")
        return lines + [""]
    if not pipeline.prelude:
        return []
    cells = ", ".join(str(c.index + 1) for c in pipeline.prelude)
    return [f"Prelude (imports and functions, run before every step): cells {cells}", ""]


def _cells(step: Step) -> str:
    numbers = [c.index + 1 for c in step.cells]
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"cells {numbers[0]}-{numbers[-1]}"
    return ("cell " if len(numbers) == 1 else "cells ") + ", ".join(map(str, numbers))


def _step(number: int, step: Step) -> list[str]:
    phase = f"  phase {step.phase}" if step.phase else ""
    lines = [f"  {number}. {step.name}{phase}  ({_cells(step)})"]
    if step.foreach:
        lines.append(f"       foreach: once per element of {step.foreach}, {step.foreach} bound to "
                     "it; readers of its outputs get lists")
    if step.after:
        lines.append(f"       after:   {', '.join(step.after)}")
    reads = []
    for inp in step.inputs:
        source = {"data": f"<- {inp.producer}", "parameter": "<- parameter",
                  "file": f"<- file written by {inp.producer}"}.get(
            inp.kind, f"<- import in {inp.producer}"
        )
        reads.append(f"{inp.name} {source}")
    if reads:
        lines.append(f"       inputs:  {', '.join(reads)}")
    if step.outputs:
        lines.append(f"       outputs: {', '.join(step.outputs)}")
    if step.metrics:
        lines.append(f"       metrics: {', '.join(m.name for m in step.metrics)}")
    for model in step.models:
        registered = f" (registered as {model.registered_name})" if model.registered_name else ""
        lines.append(f"       model:   {model.variable}{registered}")
    if step.files:
        lines.append(f"       files:   {', '.join(step.files)}")
    options = _options(step.options)
    if options:
        lines.append(f"       options: {options}")
    return lines


def _options(options: StepOptions) -> str:
    default = StepOptions()
    parts = []
    for name in ("image", "cpu", "memory", "gpu", "retries", "timeout"):
        value = getattr(options, name)
        if value != getattr(default, name):
            if name == "timeout":
                value = f"{value}s"
            if name == "gpu" and options.gpu_resource != default.gpu_resource:
                value = f"{value} ({options.gpu_resource})"
            parts.append(f"{name}={value}")
    if not options.cache:
        parts.append("cache=off")
    parts += [f"env {k}={v}" for k, v in options.env.items()]
    parts += [f"secret {s.name}:{s.key} as {s.env}" for s in options.secrets]
    for kind in ("limits", "annotations", "labels"):
        parts += [f"{kind[:-1]} {k}={v}" for k, v in getattr(options, kind).items()]
    return ", ".join(parts)


def _diagnostics(pipeline: Pipeline) -> list[str]:
    lines: list[str] = []
    if pipeline.warnings or pipeline.errors:
        lines.append("")
    lines += [d.render() for d in pipeline.warnings]
    lines += [d.render() for d in pipeline.errors]
    if pipeline.errors:
        n = len(pipeline.errors)
        lines.append(f"\n{n} error{'s' if n > 1 else ''}: the pipeline cannot run until "
                     f"{'they are' if n > 1 else 'it is'} fixed.")
    return lines
