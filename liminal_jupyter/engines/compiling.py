"""What every engine that compiles a pipeline into another system's file shares: the
refusal it raises, the image a step runs in, and the names generated from step names.

KFP's YAML and Airflow's DAG are written by different compilers, but a step's image and
its generated identifiers must follow the same rules in both, or the same notebook would
compile to pipelines that disagree.
"""

from __future__ import annotations

import re
from typing import Any

from liminal_jupyter.engines.base import EngineRefused

DEFAULT_IMAGE = "python:3.11"
"""A step's image when nothing names one; it must have liminal-jupyter installed."""


class CompileError(EngineRefused):
    """The pipeline cannot be compiled; the message says why and what to change."""


def step_image(step: Any, pipeline: Any, override: str | None = None) -> str:
    """The image a step runs in: the compile option (--image), else its image: tag, else
    the notebook's liminal.image setting, else DEFAULT_IMAGE."""
    return (override or step.options.image or (pipeline.settings or {}).get("image")
            or DEFAULT_IMAGE)


def step_slugs(steps: list[str], avoid: set[str] = frozenset()) -> dict[str, str]:
    """Step name -> the slug its generated names derive from, in notebook order.

    A slug is lowercase letters and digits joined by single '_', starting with a letter,
    so `step_<slug>` is a Python identifier and kfp's k8s form of it (`step-<slug with
    '-'>`, the component and task name) is a different name for each slug. `load-data`
    and `load_data` both clean to `load_data`: the first in notebook order keeps it, the
    next gets `load_data_2` (then _3, ...). Keywords are fine (`class` -> `step_class`,
    `class_task`): a slug is never used bare. `avoid` holds names the generated
    `from_<slug>` and `<slug>_task` must not take (parameter and reserved names).
    """
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in steps:
        base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "step"
        if not base[0].isalpha():
            base = "step_" + base
        slug, n = base, 2
        while slug in taken or {f"from_{slug}", f"{slug}_task"} & avoid:
            slug, n = f"{base}_{n}", n + 1
        taken.add(slug)
        slugs[name] = slug
    return slugs
