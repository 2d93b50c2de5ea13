"""Pipeline settings from notebook metadata (`metadata.liminal`), with Kale's as a fallback.

Settings live in the notebook so the pipeline travels with it. Known keys are type-checked
here, so a typo gets a warning with the closest key instead of being silently ignored.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from liminal_jupyter.diagnostics import Diagnostics
from liminal_jupyter.notebook.keep import KEEP_MODES, parse_size
from liminal_jupyter.notebook.reader import RawNotebook

# key -> (accepted Python types, what to say when it is wrong)
KNOWN_SETTINGS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "description": ((str,), "a string"),
    "experiment": ((str,), "a string"),
    "image": ((str,), "a container image reference"),
    "requirements": ((list,), "a list of pip requirement strings"),
    "kfp_host": ((str,), "a URL"),
    "mlflow_uri": ((str,), "a tracking URI"),
    "schedule": ((str,), "a cron expression or preset such as @daily"),
    "artifacts": ((str,), "a path or fsspec URL"),
    "steps_defaults": ((list,), "a list of step option tags such as cpu:1"),
    "volumes": ((list,), 'a list of {"pvc": NAME, "mount_path": "/abs/path"} objects'),
    "test": ((list, dict), "parameter sets for notebook CI"),
    "thresholds": ((dict,), "metric thresholds"),
    "drift_threshold": ((int, float), "a number"),
    "alias": ((str,), "a registry alias such as champion"),
    "keep": ((str,), '"all" (keep every value each step defines) or "default"'),
    "keep_max": ((int, str), 'a size per kept value, in bytes or such as "500MB"'),
    "files": ((list,), "a list of glob patterns relative to the notebook's folder"),
    "exclude": ((list,), "a list of glob patterns relative to the notebook's folder"),
    "workspace_uri": ((str,), "a folder path or fsspec URL for the workspace archive"),
    "install_runtime": ((bool,), "true or false: steps install liminal-jupyter when they "
                        "start (default: only in a stock python image)"),
    "index_url": ((str, list), "a package index URL, or a list of them (the first replaces "
                  "pip's index, the others are extra ones)"),
    "foreach_max": ((int,), "a whole number ≥ 1: the most elements a foreach: step runs "
                    "(default 1000)"),
    "airflow": ((dict,), 'an object such as {"host": URL, "dags_folder": PATH, '
                '"username": NAME} (no secrets)'),
}

_STRING_LISTS = ("requirements", "steps_defaults", "files", "exclude", "index_url")

# Kale's key -> ours. `base_image` (Kale 2.x) comes after `docker_image` (Kale 1.x) so that
# the newer spelling wins when a notebook carries both.
_KALE_KEYS = {
    "pipeline_name": "name",
    "pipeline_description": "description",
    "experiment_name": "experiment",
    "docker_image": "image",
    "base_image": "image",
    "steps_defaults": "steps_defaults",
    "kfp_host": "kfp_host",
}
# Kale keys we read but cannot honour, and why (a warning when they are set).
_KALE_UNSUPPORTED = {
    "katib_run": "Katib hyperparameter tuning is not supported; the pipeline runs once with "
                 "its parameters",
    "snapshot_volumes": "Rok volume snapshots are not supported",
}


def read_settings(nb: RawNotebook, diags: Diagnostics) -> dict[str, Any]:
    raw = nb.metadata.get("liminal") or {}
    where = nb.location()
    if not isinstance(raw, dict):
        diags.error("bad-settings", "notebook metadata 'liminal' must be an object.", where)
        raw = {}
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "tracking_uri":
            key = "mlflow_uri"
        _check(key, value, "liminal", settings, nb, diags)
    kale = _kale_settings(nb.metadata.get("kubeflow_notebook"), nb, diags)
    if "volumes" in settings and "steps_defaults" in kale:
        # our volumes replace Kale's, and with them the variables Kale's would set
        kale["steps_defaults"] = [v for v in kale["steps_defaults"]
                                  if not v.startswith("env:KALE_VOLUME_")]
    for key, value in kale.items():
        if key not in settings:
            _check(key, value, "kubeflow_notebook", settings, nb, diags)
        elif key == "steps_defaults" and isinstance(settings[key], list):
            # what Kale's enable_caching and volumes imply still applies under our own list
            settings[key] = [v for v in value if v.startswith(_IMPLIED)] + settings[key]
    return settings


def _check(
    key: str, value: Any, origin: str, settings: dict, nb: RawNotebook, diags: Diagnostics
) -> None:
    """Keep a setting if it is known and well-typed; otherwise say why it is not used."""
    if key not in KNOWN_SETTINGS:
        close = difflib.get_close_matches(key, KNOWN_SETTINGS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        diags.warning(
            "unknown-setting",
            f"notebook metadata {origin}.{key} is not a setting and is ignored.{hint}",
            nb.location(),
        )
        return
    types, wanted = KNOWN_SETTINGS[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        diags.error(
            "bad-setting",
            f"notebook metadata {origin}.{key} should be {wanted}, not {value!r}.",
            nb.location(),
        )
        return
    if key in _STRING_LISTS and not all(isinstance(v, str) for v in value):
        diags.error("bad-setting", f"notebook metadata {origin}.{key} should be {wanted}.",
                    nb.location())
        return
    if key == "volumes" and not all(_is_volume(v) for v in value):
        diags.error("bad-setting", f"notebook metadata {origin}.volumes should be {wanted}.",
                    nb.location())
        return
    if key == "keep" and value not in KEEP_MODES or key == "keep_max" and parse_size(
            value) is None:
        diags.error("bad-setting", f"notebook metadata {origin}.{key} should be {wanted}, not "
                    f"{value!r}.", nb.location())
        return
    if key == "foreach_max" and value < 1:
        diags.error("bad-setting", f"notebook metadata {origin}.foreach_max should be {wanted}, "
                    f"not {value!r}.", nb.location())
        return
    if key == "thresholds":
        problems = threshold_problems(value)
        for problem in problems:
            diags.error("bad-setting", f"notebook metadata {origin}.{problem}.", nb.location())
        if problems:
            return
    settings[key] = value


def threshold_problems(thresholds: Any) -> list[str]:
    """What is wrong with a `liminal.thresholds` setting (empty when it is well formed).

    The form: {"accuracy": 0.9, "rmse": {"max": 0.5}, "f1": {"min": 0.8, "max": 1}}; a bare
    number is a minimum. The promotion gate (deploy/gate.py) reads bounds of this form.
    """
    if not isinstance(thresholds, Mapping):
        return ["thresholds must be an object mapping metric names to bounds"]
    problems = []
    for name, bound in thresholds.items():
        if _is_number(bound):
            continue
        if (isinstance(bound, Mapping) and bound and set(bound) <= {"min", "max"}
                and all(_is_number(v) for v in bound.values())):
            continue
        problems.append(f"thresholds.{name} must be a number (a minimum) or an object with "
                        f"\"min\" and/or \"max\" numbers, not {bound!r}")
    return problems


def threshold_bounds(bound: Any) -> tuple[float | None, float | None]:
    """(minimum, maximum) of one well-formed threshold; None where there is no bound."""
    if _is_number(bound):
        return bound, None
    return bound.get("min"), bound.get("max")


def metadata_settings(notebook: str | os.PathLike[str] | None) -> dict[str, Any]:
    """A notebook's `liminal` metadata as written, read as plain JSON ({} when there is none
    or the file cannot be read): for callers that need one setting fast (a tracking URI, a
    drift threshold) and must not parse the notebook or import nbformat. A pipeline file
    (liminal.yml) gives its own top-level settings."""
    if notebook is None:
        return {}
    from liminal_jupyter.notebook.pipefile import is_pipeline_file, written_settings

    if is_pipeline_file(notebook):
        return written_settings(Path(notebook))
    try:
        meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata") or {}
        settings = meta.get("liminal") or {}
        return settings if isinstance(settings, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_volume(value: Any) -> bool:
    return (isinstance(value, dict) and set(value) == {"pvc", "mount_path"}
            and isinstance(value["pvc"], str) and bool(value["pvc"])
            and isinstance(value["mount_path"], str) and value["mount_path"].startswith("/"))


# steps_defaults entries that stand for Kale pipeline settings rather than Kale's own list
_IMPLIED = ("cache:off", "env:KALE_VOLUME_")


def _kale_settings(kale: Any, nb: RawNotebook, diags: Diagnostics) -> dict[str, Any]:
    """Kale's notebook metadata under our names; only keys Kale set to something.

    Kale's pipeline-wide `enable_caching: false` and a volume's `expose_as_env_var` become
    steps_defaults tags (cache:off, env:KALE_VOLUME_<NAME>=<mount point>), so a step's own
    cache: tag still wins, as in Kale, and every engine sets the variable.
    """
    if not isinstance(kale, dict):
        return {}
    found = {key: kale[kale_key] for kale_key, key in _KALE_KEYS.items() if kale.get(kale_key)}
    experiment = kale.get("experiment")
    if isinstance(experiment, dict) and experiment.get("name") and "experiment" not in found:
        found["experiment"] = experiment["name"]
    implied: list[str] = []
    if kale.get("enable_caching") is False:
        implied.append("cache:off")
    if kale.get("volumes"):
        volumes, env_tags = _kale_volumes(kale["volumes"], nb, diags)
        if volumes:
            found["volumes"] = volumes
        implied += env_tags
    if implied:
        defaults = found.get("steps_defaults")
        found["steps_defaults"] = implied + (defaults if isinstance(defaults, list) else [])
    for key, why in _KALE_UNSUPPORTED.items():
        if kale.get(key):
            diags.warning("unsupported-setting",
                          f"notebook metadata kubeflow_notebook.{key} is set, but {why}.",
                          nb.location())
    return found


def _kale_volumes(volumes: Any, nb: RawNotebook, diags: Diagnostics
                  ) -> tuple[list[dict[str, str]], list[str]]:
    """Kale's `volumes` ({"name", "mount_point", "type", ...}) as our liminal.volumes, plus
    the env tags of volumes with `expose_as_env_var`. Like Kale 2.x, only `type: pvc` (an
    existing claim) is mounted; other types are a warning, not a silent drop."""
    if not isinstance(volumes, list):
        diags.error("bad-setting", "notebook metadata kubeflow_notebook.volumes should be a list "
                    "of Kale volume objects.", nb.location())
        return [], []
    found, env_tags = [], []
    for i, vol in enumerate(volumes):
        name = vol.get("name") if isinstance(vol, dict) else None
        mount = vol.get("mount_point") if isinstance(vol, dict) else None
        if not isinstance(name, str) or not name or not isinstance(mount, str):
            diags.error("bad-setting", f"notebook metadata kubeflow_notebook.volumes[{i}] needs "
                        f'a "name" and a "mount_point", not {vol!r}.', nb.location())
            continue
        kind = vol.get("type", "pvc")
        if kind != "pvc":
            diags.warning("unsupported-setting", f"notebook metadata kubeflow_notebook.volumes"
                          f"[{i}] ({name!r}) has type {kind!r}; only existing claims (type "
                          "'pvc') are mounted, as in Kale 2.x. Create the claim and use type "
                          "'pvc'.", nb.location())
            continue
        found.append({"pvc": name, "mount_path": mount})
        if vol.get("expose_as_env_var"):
            env_tags.append(f"env:{kale_volume_env(name)}={mount}")
    return found, env_tags


def kale_volume_env(pvc: str) -> str:
    """Kale's KALE_VOLUME_<NAME> variable for a claim: upper case, every character that is
    not a letter or digit becomes '_' (as kale.compiler.to_kale_env_var_name)."""
    return "KALE_VOLUME_" + re.sub(r"[^A-Z0-9]", "_", pvc.upper())
