"""`liminal-nb image NOTEBOOK`: a container image for a notebook's steps, pinned and fast.

A step in a stock image installs liminal-jupyter and the notebook's requirements every
time it starts (engines/runtime_install.py). An image with all of it installed once
starts at once and never meets a changed package index. This module writes its build
folder (a Dockerfile and a requirements.txt: what the stock path installs, pinned to the
versions installed here, so steps run with the packages a local run used), names it by
its content (a changed requirement is a new tag, so a cluster never runs a stale image
under an old name) and builds it with the first of docker, podman or buildah on PATH.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from liminal_jupyter.engines.runtime_install import (
    DISTRIBUTION,
    checked_requirements,
    index_urls,
    pinned_runtime_requirements,
    pip_index_options,
    version,
)

BUILDERS = ("docker", "podman", "buildah")
_TAG = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9._-]+)*(?::[\w.-]{1,128})?$")


class ImageError(ValueError):
    """The image cannot be written or built; the message says why and what to do."""


@dataclass
class BuildFolder:
    folder: Path
    tag: str
    base: str
    requirements: list[str]
    notes: list[str]


def default_base() -> str:
    """The slim official image of this Python: step values pickled here load there."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def write_build_folder(pipeline: object, folder: Path, *, base: str | None = None,
                       tag: str | None = None, urls: list[str] | None = None,
                       wheel: Path | None = None) -> BuildFolder:
    """Write folder/Dockerfile and folder/requirements.txt (and the wheel, if given) for
    the image of `pipeline`'s steps; ImageError for a bad tag, wheel or requirement."""
    from liminal_jupyter.engines.compiling import CompileError

    settings = getattr(pipeline, "settings", None) or {}
    try:
        requirements = checked_requirements(settings)
        indexes = index_urls(settings, urls)
    except CompileError as exc:
        raise ImageError(str(exc)) from exc
    import kfp

    installed = [*pinned_runtime_requirements(), f"kfp=={kfp.__version__}", *requirements]
    notes = []
    if wheel is not None:
        wheel = Path(wheel)
        if not (wheel.is_file() and wheel.name.startswith("liminal_jupyter-")
                and wheel.suffix == ".whl"):
            raise ImageError(f"--wheel {wheel}: not a liminal_jupyter-*.whl file")
        liminal = f"/opt/liminal/{wheel.name}"
    else:
        liminal = f"{DISTRIBUTION}=={version()}"
        if _editable():
            notes.append(f"liminal-jupyter is installed here from a source folder; the image "
                         f"installs {liminal} from the package index. If that version is not "
                         "published there, build a wheel (`pip wheel --no-deps .`) and pass "
                         "--wheel")
    base = base or default_base()
    if not re.fullmatch(r"[\w.:/@+-]+", base):
        raise ImageError(f"--base {base!r} is not an image reference (such as python:3.11-slim)")
    index = "".join(f" {option}" for option in pip_index_options(indexes))
    name = getattr(pipeline, "name", "pipeline")
    dockerfile = "\n".join([
        f"# The image of the steps of {json.dumps(name)}, written by `liminal-nb image` "
        f"(liminal-jupyter {version()}).",
        "# Written again when liminal.requirements change; its tag names its content.",
        f"FROM {base}",
        "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1",
        "COPY requirements.txt /opt/liminal/requirements.txt",
        f"RUN python -m pip install{index} -r /opt/liminal/requirements.txt",
        *([f"COPY {wheel.name} {liminal}"] if wheel is not None else []),
        # Only the in-step runtime: the panel, tracking server and clients are not needed.
        f"RUN python -m pip install --no-deps{index} {liminal}",
        f"LABEL io.liminal-jupyter.version={json.dumps(version())} "
        f"io.liminal-jupyter.pipeline={json.dumps(name)}",
        "",
    ])
    text = "\n".join(installed) + "\n"
    digest = hashlib.sha256(dockerfile.encode() + text.encode())
    if wheel is not None:
        digest.update(wheel.read_bytes())
    tag = tag or f"liminal-{_slug(name)}:{digest.hexdigest()[:12]}"
    if not _TAG.match(tag):
        raise ImageError(f"--tag {tag!r} is not an image name (lowercase name[:tag], such as "
                         "registry.example/team/iris:1)")
    folder.mkdir(parents=True, exist_ok=True)
    from liminal_jupyter.atomic import atomic_write_text

    atomic_write_text(folder / "requirements.txt", text)
    atomic_write_text(folder / "Dockerfile", dockerfile)
    if wheel is not None:
        shutil.copyfile(wheel, folder / wheel.name)
    return BuildFolder(folder, tag, base, installed, notes)


def find_builder(wanted: str | None = None) -> str | None:
    """The builder to use: `wanted` if on PATH, else the first of BUILDERS found."""
    for name in [wanted] if wanted else BUILDERS:
        if shutil.which(name):
            return name
    return None


def build_command(builder: str, tag: str, folder: Path) -> list[str]:
    verb = ["bud"] if builder == "buildah" else ["build"]
    return [builder, *verb, "-t", tag, str(folder)]


def build(builder: str, tag: str, folder: Path) -> None:
    """Run the builder, its output passed through; ImageError with its last line."""
    _run(build_command(builder, tag, folder), show_errors=True)


def push(builder: str, tag: str) -> None:
    _run([builder, "push", tag], show_errors=False)


def _run(command: list[str], show_errors: bool) -> None:
    """Run a builder's command; ImageError naming it with the last line it wrote on stderr."""
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    if show_errors and done.stderr:
        sys.stderr.write(done.stderr)
    if done.returncode != 0:
        last = next((line.strip() for line in reversed(done.stderr.splitlines())
                     if line.strip()), "no message")
        raise ImageError(f"`{' '.join(command)}` failed (exit {done.returncode}): {last}")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "pipeline"


def _editable() -> bool:
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    try:
        return bool(json.loads(text or "{}").get("dir_info", {}).get("editable"))
    except ValueError:
        return False
