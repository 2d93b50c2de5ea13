"""The tag language: one cell tag string in, one typed meaning out.

Tags are case-insensitive in their key and tolerate whitespace (`Step : Train`), because
people type them by hand in JupyterLab's tag editor. Kale's tags are accepted as aliases so
a Kale notebook works unchanged. A tag that is not ours is ignored, unless it looks like a
misspelling of ours: then the caller warns with the closest match.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

PHASES = (
    "fetch",
    "clean",
    "prepare",
    "train",
    "evaluate",
    "validate",
    "deploy",
    "inference",
    "monitor",
)

# Role tags decide what a cell is; the rest add to the step the cell belongs to.
ROLE_KINDS = ("parameters", "imports", "functions", "skip", "metrics", "step")

_PLAIN = {
    "parameters": "parameters",
    "pipeline-parameters": "parameters",
    "injected-parameters": "parameters",  # papermill's, on an executed notebook
    "imports": "imports",
    "functions": "functions",
    "skip": "skip",
    "metrics": "metrics",
    "pipeline-metrics": "metrics",
}
_KEYED = (
    "step",
    "block",
    "after",
    "prev",
    "model",
    "phase",
    "image",
    "cpu",
    "memory",
    "gpu",
    "retries",
    "timeout",
    "cache",
    "keep",
    "env",
    "secret",
    "limit",
    "annotation",
    "label",
    "foreach",
    "foreach-max",
)
# Tags of other tools that are fine on our cells and need no warning.
FOREIGN_TAGS = {
    "hide-input",
    "hide-output",
    "hide-cell",
    "remove-cell",
    "remove-input",
    "remove-output",
    "raises-exception",
    "skip-ci",
    "skip-execution",
    "active-ipynb",
    "thebe-init",
    "full-width",
    "margin",
}
# Kale's `report:enabled/disabled` (its per-step HTML report) needs no warning: every engine
# writes the executed notebook and its page anyway (`liminal-nb run --no-html` turns it off).
FOREIGN_KEYS = {"report"}
KNOWN_WORDS = tuple(_PLAIN) + _KEYED

STEP_NAME = re.compile(r"^[a-z_][a-z0-9_-]*$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CPU = re.compile(r"^\d+(\.\d+)?m?$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_K8S_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Tag:
    """A recognised tag. `kind` is one of ROLE_KINDS, 'after', 'model', 'phase', 'foreach'
    or 'option'.

    `alias` names the Kale spelling used, so behaviour that Kale defines differently (how
    untagged cells continue a parameters cell) can follow the spelling the user wrote.
    """

    kind: str
    value: Any = None
    raw: str = ""
    alias: str | None = None


class TagError(ValueError):
    """A tag of ours with a value that cannot be right (`retries:-1`, `memory:lots`)."""


def parse_tag(raw: str) -> Tag | None:
    """Return the Tag for `raw`, None for a tag that is not ours; raise TagError if malformed."""
    text = raw.strip()
    lowered = text.lower()
    if lowered in _PLAIN:
        kind = _PLAIN[lowered]
        return Tag(kind, None, raw, alias=lowered if lowered != kind else None)
    if ":" not in text:
        return None
    key, _, value = text.partition(":")
    key = key.strip().lower()
    value = value.strip()
    if key not in _KEYED:
        return None
    return _KEYED_PARSERS[key](value, raw)


def empty_step(raw: str) -> bool:
    """`step:` or `block:` with no name. Kale accepts it (its tag pattern allows an empty
    name) and treats the cell as untagged, continuing the step above; so do we, with a
    warning, instead of refusing the notebook."""
    key, sep, value = raw.strip().partition(":")
    return bool(sep) and key.strip().lower() in ("step", "block") and not value.strip()


def kale_sub_pipeline(raw: str) -> bool:
    """Kale 2.3's `notebook:NAME`: the cell stands for another notebook, composed as a
    sub-pipeline. We cannot honour it, and ignoring it would drop work, so callers refuse it."""
    key, sep, _ = raw.strip().partition(":")
    return bool(sep) and key.strip().lower() == "notebook"


def looks_like_ours(raw: str) -> str | None:
    """The tag of ours that an unknown tag probably meant, for a 'did you mean' warning."""
    text = raw.strip().lower()
    key = text.partition(":")[0].strip()
    if text in FOREIGN_TAGS or key in FOREIGN_KEYS:
        return None
    match = difflib.get_close_matches(key, KNOWN_WORDS, n=1, cutoff=0.75)
    if not match:
        return None
    word = match[0]
    return word if word in _PLAIN else f"{word}:"


def _step(value: str, raw: str, alias: str | None = None) -> Tag:
    name = value.lower()
    if not name:
        raise TagError(f"'{raw}' has no step name: write it as step:NAME, e.g. step:train.")
    if not STEP_NAME.match(name):
        raise TagError(
            f"'{raw}': a step name starts with a letter or _ and holds only letters, digits, "
            "_ and -."
        )
    return Tag("step", name, raw, alias)


def _after(value: str, raw: str, alias: str | None = None) -> Tag:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not names:
        raise TagError(f"'{raw}' names no step: write it as after:A or after:A,B.")
    for name in names:
        if not STEP_NAME.match(name):
            raise TagError(f"'{raw}': {name!r} is not a valid step name.")
    return Tag("after", tuple(names), raw, alias)


def _model(value: str, raw: str) -> Tag:
    var, _, registered = value.partition("=")
    var, registered = var.strip(), registered.strip()
    if not IDENTIFIER.match(var):
        raise TagError(f"'{raw}': write model:VAR (or model:VAR=registry-name), VAR a variable.")
    return Tag("model", (var, registered or None), raw)


def _phase(value: str, raw: str) -> Tag:
    phase = value.lower()
    if phase not in PHASES:
        close = difflib.get_close_matches(phase, PHASES, n=1)
        hint = f" Did you mean phase:{close[0]}?" if close else ""
        raise TagError(f"'{raw}': unknown phase; phases are {', '.join(PHASES)}.{hint}")
    return Tag("phase", phase, raw)


def _option(name: str, value: Any, raw: str, alias: str | None = None) -> Tag:
    return Tag("option", (name, value), raw, alias)


def _image(value: str, raw: str) -> Tag:
    if not value or any(c.isspace() for c in value):
        raise TagError(f"'{raw}': write image:REF, e.g. image:python:3.11-slim.")
    return _option("image", value, raw)


def _cpu(value: str, raw: str) -> Tag:
    if not _CPU.match(value):
        raise TagError(f"'{raw}': cpu takes a number of cores such as 2, 0.5 or 500m.")
    return _option("cpu", value, raw)


def _memory(value: str, raw: str) -> Tag:
    if not _MEMORY.match(value):
        raise TagError(f"'{raw}': memory takes a Kubernetes quantity such as 512Mi or 4Gi.")
    return _option("memory", value, raw)


def _count(name: str, value: str, raw: str, example: str) -> int:
    if not value.isdigit():
        raise TagError(f"'{raw}': {name} takes a whole number ≥ 0, e.g. {example}.")
    return int(value)


def _gpu(value: str, raw: str) -> Tag:
    return _option("gpu", _count("gpu", value, raw, "gpu:1"), raw)


def _retries(value: str, raw: str) -> Tag:
    return _option("retries", _count("retries", value, raw, "retries:2"), raw)


def parse_duration(value: str) -> int | None:
    """Seconds in '90', '90s', '30m', '1h30m' or '1d'; None if it is none of those."""
    value = value.strip().lower()
    if value.isdigit():
        return int(value)
    match = _DURATION.match(value)
    if not value or not match:
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def _timeout(value: str, raw: str) -> Tag:
    seconds = parse_duration(value)
    if not seconds:
        raise TagError(f"'{raw}': timeout takes a duration such as 90s, 30m or 2h.")
    return _option("timeout", seconds, raw)


def _cache(value: str, raw: str) -> Tag:
    word = value.lower()
    on = {"on": True, "enabled": True, "true": True, "off": False, "disabled": False}
    if word not in on and word != "false":
        raise TagError(f"'{raw}': write cache:off or cache:on (Kale: cache:disabled/enabled).")
    alias = "kale" if word in ("enabled", "disabled") else None
    return _option("cache", on.get(word, False), raw, alias)


def _keep(value: str, raw: str) -> Tag:
    word = value.lower()
    if word not in ("all", "default"):
        raise TagError(f"'{raw}': write keep:all (keep every value the step defines) or "
                       "keep:default.")
    return _option("keep", word, raw)


def _env(value: str, raw: str) -> Tag:
    key, sep, val = value.partition("=")
    key = key.strip()
    if not sep or not IDENTIFIER.match(key):
        raise TagError(f"'{raw}': write env:NAME=VALUE, e.g. env:OMP_NUM_THREADS=1.")
    return _option("env", (key, val.strip()), raw)


def _secret(value: str, raw: str) -> Tag:
    parts = [p.strip() for p in value.split(":")]
    if len(parts) != 3 or not all(parts) or not IDENTIFIER.match(parts[2]):
        raise TagError(
            f"'{raw}': write secret:SECRET_NAME:KEY:ENV_VAR, e.g. secret:db-creds:password:DB_PASS."
        )
    return _option("secret", tuple(parts), raw)


def _limit(value: str, raw: str) -> Tag:
    resource, _, amount = value.rpartition(":")
    resource, amount = resource.strip().lower(), amount.strip()
    if not resource or not amount:
        raise TagError(f"'{raw}': Kale's limit tag is limit:RESOURCE:AMOUNT, e.g. limit:cpu:2.")
    if resource == "cpu":
        return Tag("option", _cpu(amount, raw).value, raw, "limit")
    if resource == "memory":
        return Tag("option", _memory(amount, raw).value, raw, "limit")
    if resource.endswith("/gpu"):
        count = _count("a GPU limit", amount, raw, "limit:nvidia.com/gpu:1")
        return Tag("option", ("gpu", count), raw, resource)
    return _option("limit", (resource, amount), raw)


def _foreach(value: str, raw: str) -> Tag:
    """`foreach:NAME`: the step runs once per element of the list NAME (a parameter, or a
    value an upstream step produces), with NAME bound to that element."""
    if not IDENTIFIER.match(value):
        raise TagError(f"'{raw}': write foreach:NAME, NAME a list parameter or a list an "
                       "earlier step produces, e.g. foreach:max_depths.")
    return Tag("foreach", value, raw)


def _foreach_max(value: str, raw: str) -> Tag:
    count = _count("foreach-max", value, raw, "foreach-max:50")
    if count < 1:
        raise TagError(f"'{raw}': foreach-max takes a whole number ≥ 1, e.g. foreach-max:50.")
    return _option("foreach_max", count, raw)


def _key_value(kind: str):
    def parse(value: str, raw: str) -> Tag:
        key, sep, val = value.partition(":")
        if not sep or not _K8S_KEY.match(key.strip()):
            raise TagError(f"'{raw}': write {kind}:KEY:VALUE.")
        return _option(kind, (key.strip(), val.strip()), raw)

    return parse


_KEYED_PARSERS = {
    "step": _step,
    "block": lambda v, raw: _step(v, raw, "block"),
    "after": _after,
    "prev": lambda v, raw: _after(v, raw, "prev"),
    "model": _model,
    "phase": _phase,
    "image": _image,
    "cpu": _cpu,
    "memory": _memory,
    "gpu": _gpu,
    "retries": _retries,
    "timeout": _timeout,
    "cache": _cache,
    "keep": _keep,
    "env": _env,
    "secret": _secret,
    "limit": _limit,
    "annotation": _key_value("annotation"),
    "label": _key_value("label"),
    "foreach": _foreach,
    "foreach-max": _foreach_max,
}
