"""Steps in a stock image: installing liminal-jupyter's in-step runtime when a step starts.

A step runs its cells with liminal-jupyter's step executor, so its image must have
liminal-jupyter. A user who names no image gets a stock Python image that has nothing;
rather than fail in the pod with ModuleNotFoundError, the step installs what it needs
when it starts: the exact liminal-jupyter version that compiled it, and the notebook's
`liminal.requirements`. That costs time in every pod, so `liminal-nb image` writes (and
builds) an image with all of it for a pinned, faster start.

Only the in-step runtime's dependencies are installed, not the whole package's: the
panel, the tracking server and the Airflow/KFP clients (jupyterlab, mlflow...) are not
used inside a step, and installing them would multiply the start time. liminal-jupyter
itself is installed without dependencies (pip cannot express that per requirement, so
the step's code does it, see engines/kfp/compile.py), the runtime ones with theirs, at
the bounds pyproject.toml declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from liminal_jupyter.engines.compiling import CompileError

DISTRIBUTION = "liminal-jupyter"

# What liminal_jupyter/step/ and an engine's in-step entry point import (tests/
# test_layering.py keeps step/ from importing the rest). fsspec fetches a workspace archive
# stored at a URL (it is not one of our declared dependencies, so it has no bound).
RUNTIME_DISTRIBUTIONS = ("cloudpickle", "ipykernel", "ipython", "joblib", "nbconvert",
                         "nbformat", "numpy", "pandas", "papermill", "pyarrow", "pyyaml")
EXTRA_RUNTIME_REQUIREMENTS = ("fsspec",)

# Images known to lack liminal-jupyter: Docker's official Python images (what
# DEFAULT_IMAGE is). Any other image is taken to be one a user built with it
# (`liminal-nb image` writes one); `install_runtime` says otherwise either way.
_STOCK = re.compile(r"^(?:(?:docker\.io/)?(?:library/)?)python(?::[\w.-]+)?(?:@sha256:\w+)?$")

INDEX_URL_ENV = "LIMINAL_INDEX_URL"
_INDEX_URL = re.compile(r"^(?:https?|file)://[^\s'\"`;$&|<>\\(){}*?!#]+$")


@dataclass(frozen=True)
class RuntimeInstall:
    """What a step installs when it starts: `liminal` without dependencies, then
    `packages` with theirs, from `index_urls` (the first replaces pip's index, the others
    are extra indexes; empty: pip's own configuration)."""

    liminal: str
    packages: list[str] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)


def version() -> str:
    return metadata.version(DISTRIBUTION)


def liminal_requirement() -> str:
    """The exact version of liminal-jupyter that compiles the pipeline: a step must run
    the in-step runtime that matches the IR it carries."""
    return f"{DISTRIBUTION}=={version()}"


def runtime_requirements() -> list[str]:
    """The in-step runtime's dependencies, at the bounds pyproject.toml declares."""
    wanted = {_canonical(name) for name in RUNTIME_DISTRIBUTIONS}
    found = []
    for requirement in metadata.requires(DISTRIBUTION) or []:
        spec = requirement.split(";")[0].strip()
        if ";" in requirement and "extra ==" in requirement:
            continue
        if _canonical(_project(spec)) in wanted:
            found.append(spec.replace(" ", ""))
    return sorted(found, key=str.lower) + list(EXTRA_RUNTIME_REQUIREMENTS)


def pinned_runtime_requirements() -> list[str]:
    """The in-step runtime's dependencies at the versions installed here: an image built
    from them runs steps with the packages a local run used."""
    pinned = []
    for requirement in runtime_requirements():
        name = _project(requirement)
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pinned.append(requirement)
    return pinned


def pip_index_options(urls: list[str]) -> list[str]:
    """pip's options for these indexes: the first replaces pip's index, the others are
    extra ones (as kfp's pip_index_urls means them)."""
    options = []
    for n, url in enumerate(urls):
        options += ["--index-url" if n == 0 else "--extra-index-url", url]
    return options


def is_stock_image(image: str) -> bool:
    """True for an image known to lack liminal-jupyter (Docker's official python ones)."""
    return bool(_STOCK.match(image.strip()))


def index_urls(settings: dict[str, Any] | None, override: list[str] | None = None,
               environ: dict[str, str] | None = None) -> list[str]:
    """The package indexes a step installs from: --index-url, else the notebook's
    liminal.index_url setting, else $LIMINAL_INDEX_URL (space-separated), else none (pip's
    own configuration in the image)."""
    import os

    if override:
        urls, origin = list(override), "--index-url"
    elif (settings or {}).get("index_url"):
        setting = settings["index_url"]
        urls = [setting] if isinstance(setting, str) else [str(u) for u in setting]
        origin = "the liminal.index_url setting"
    else:
        value = (environ if environ is not None else os.environ).get(INDEX_URL_ENV, "")
        urls, origin = value.split(), f"${INDEX_URL_ENV}"
    for url in urls:
        # kfp pastes the URL into the step's shell command as it is.
        if not _INDEX_URL.match(url):
            raise CompileError(f"{origin}: {url!r} is not a package index URL (http://, "
                               "https:// or file://, without spaces or shell characters)")
    return urls


def plan_install(image: str, settings: dict[str, Any] | None, *,
                 install: bool | None = None,
                 urls: list[str] | None = None) -> RuntimeInstall | None:
    """What a step in `image` installs when it starts; None when the image has it all.

    install: True or False forces it (--install-runtime / --no-install-runtime); None
    reads liminal.install_runtime, and without it installs only in a stock image.
    """
    setting = (settings or {}).get("install_runtime")
    wanted = install if install is not None else setting
    if wanted is None:
        wanted = is_stock_image(image)
    if not wanted:
        return None
    requirements = checked_requirements(settings)
    return RuntimeInstall(liminal_requirement(), runtime_requirements() + requirements,
                          index_urls(settings, urls))


def checked_requirements(settings: dict[str, Any] | None) -> list[str]:
    """liminal.requirements, refusing one kfp could not quote for the step's shell: kfp
    writes each as Python's repr, which switches to double quotes (where the shell expands
    `$`, backquotes and backslashes) when the text holds a single quote."""
    requirements = [str(r) for r in (settings or {}).get("requirements") or []]
    for requirement in requirements:
        if "'" in requirement and set(requirement) & set("$`\\!"):
            raise CompileError(f"liminal.requirements: {requirement!r} mixes a single quote "
                               "with $, `, \\ or !; write markers with double quotes")
    return requirements


def _project(requirement: str) -> str:
    """The project name a requirement string starts with ('nbconvert<8,>=7.4' -> nbconvert)."""
    return re.split(r"[\s<>=!~\[]", requirement, maxsplit=1)[0]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
