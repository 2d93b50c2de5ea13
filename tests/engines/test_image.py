"""`liminal-nb image NOTEBOOK`: the build folder of an image for the notebook's steps, and
its build by the builder found on PATH.

No container builder can build here (docker's client is installed but no daemon runs, and
podman/buildah need privileges the sandbox lacks). What the builder is asked to do is
checked with a stand-in `podman` on PATH that records its arguments, following podman's
documented `podman build -t TAG DIR` / `podman push TAG`; the real docker client is used
where it is on PATH, for its real refusal. That the Dockerfile's installs give a working
step runtime is shown by running them in a fresh virtual environment.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import venv

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.engines.runtime_install import pinned_runtime_requirements, version
from tests.engines.kfp.test_stock_image import write_notebook


def stand_in_builder(folder, name="podman"):
    """An executable `name` that appends its arguments to folder/calls.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(folder / 'calls.jsonl')!r}, 'a').write("
                      "json.dumps(sys.argv[1:]) + '\\n')\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder / "calls.jsonl"


def test_the_build_folder_pins_the_runtime_and_names_the_image_by_its_content(tmp_path, capsys):
    notebook = write_notebook(tmp_path / "nb", {"requirements": ["scikit-learn>=1.3"]})
    assert main(["image", str(notebook), "--builder", "none"]) == 0
    out = capsys.readouterr().out
    folder = notebook.with_name("stock-image")
    requirements = (folder / "requirements.txt").read_text().split()
    import kfp

    assert requirements == [*pinned_runtime_requirements(), f"kfp=={kfp.__version__}",
                            "scikit-learn>=1.3"]
    assert all("==" in r for r in pinned_runtime_requirements())
    dockerfile = (folder / "Dockerfile").read_text()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"FROM python:{py}-slim" in dockerfile
    assert f"RUN python -m pip install --no-deps liminal-jupyter=={version()}" in dockerfile
    tag = out.split("docker build -t ")[1].split()[0]
    assert tag.startswith("liminal-stock:") and len(tag.split(":")[1]) == 12
    assert f"then use it: liminal-nb compile {notebook} --image {tag}" in out

    # Nothing changed: the same tag. A requirement changed: a new one.
    assert main(["image", str(notebook), "--builder", "none"]) == 0
    assert tag in capsys.readouterr().out
    meta = json.loads(notebook.read_text())
    meta["metadata"]["liminal"]["requirements"] = ["scikit-learn>=1.4"]
    notebook.write_text(json.dumps(meta))
    assert main(["image", str(notebook), "--builder", "none"]) == 0
    assert tag not in capsys.readouterr().out


def test_the_builder_on_path_builds_and_pushes_the_tag(tmp_path, capsys, monkeypatch):
    calls = stand_in_builder(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    notebook = write_notebook(tmp_path / "nb")
    assert main(["image", str(notebook), "--builder", "podman", "--tag",
                 "registry.example/ml/stock:1", "--push", "--dir", str(tmp_path / "ctx")]) == 0
    out = capsys.readouterr().out
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        ["build", "-t", "registry.example/ml/stock:1", str(tmp_path / "ctx")],
        ["push", "registry.example/ml/stock:1"]]
    assert "built registry.example/ml/stock:1 and pushed it" in out
    assert f"use it: liminal-nb compile {notebook} --image registry.example/ml/stock:1" in out


def test_a_builder_that_fails_is_one_line_and_the_folder_stays(tmp_path, capsys, monkeypatch):
    """docker's real client with no daemon (these machines have one): its own message, the
    Dockerfile still there. Where no docker is installed, a stand-in that fails as it does."""
    if shutil.which("docker") is None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker "
                                        "daemon' >&2\nexit 1\n")
        (bin_dir / "docker").chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    notebook = write_notebook(tmp_path / "nb")
    assert main(["image", str(notebook), "--builder", "docker"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: `docker build -t liminal-stock:") and "failed (exit" in \
        err[-1]
    assert (notebook.with_name("stock-image") / "Dockerfile").exists()


@pytest.mark.parametrize(("flags", "said"), [
    (["--tag", "Bad Tag"], "--tag 'Bad Tag' is not an image name"),
    (["--base", "python:3.11\nRUN curl evil"], "is not an image reference"),
    (["--wheel", "setup.py"], "--wheel setup.py: not a liminal_jupyter-*.whl file"),
    (["--index-url", "http://x/$(id)"], "is not a package index URL"),
], ids=["tag", "base-with-newline", "wheel", "index"])
def test_bad_options_are_refused_in_one_line_and_nothing_is_written(tmp_path, capsys, flags,
                                                                    said):
    notebook = write_notebook(tmp_path / "nb")
    assert main(["image", str(notebook), "--builder", "none", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1
    assert not notebook.with_name("stock-image").exists()


def test_with_no_builder_on_path_it_says_how_to_build(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    notebook = write_notebook(tmp_path / "nb")
    assert main(["image", str(notebook)]) == 0
    out = capsys.readouterr().out
    assert "no docker, podman, buildah on PATH; build it with: docker build -t liminal-stock:" \
        in out


def test_the_dockerfiles_installs_give_a_working_step_runtime(tmp_path, local_index, capsys):
    """The Dockerfile's two pip commands, run in a fresh virtual environment with
    --wheel: the interpreter then has this liminal-jupyter and runs a step's runtime."""
    server, index = local_index
    (wheel,) = (server.root / "files").glob("*.whl")
    notebook = write_notebook(tmp_path / "nb")
    folder = tmp_path / "ctx"
    assert main(["image", str(notebook), "--builder", "none", "--dir", str(folder),
                 "--wheel", str(wheel)]) == 0
    assert (folder / wheel.name).is_file()
    runs = [line.removeprefix("RUN ") for line in (folder / "Dockerfile").read_text()
            .splitlines() if line.startswith("RUN ")]
    assert runs == ["python -m pip install -r /opt/liminal/requirements.txt",
                    f"python -m pip install --no-deps /opt/liminal/{wheel.name}"]
    env_dir = tmp_path / "image-env"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    for run in runs:  # the image's /opt/liminal is the build folder
        args = run.replace("/opt/liminal/", f"{folder}/").split()[1:]
        # --no-compile: pip's byte-compiling of every file it installs (a third of the
        # install's CPU here) only speeds up a first import, which compiles what it uses.
        subprocess.run([python, *args, "--quiet", "--no-compile"], check=True, timeout=900)
    done = subprocess.run(
        [python, "-c", "import liminal_jupyter.engines.kfp.runtime, papermill, ipykernel; "
         "from importlib.metadata import version; print(version('liminal-jupyter'))"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == version(), done.stderr
