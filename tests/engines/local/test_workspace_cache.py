"""Workspace files in the local step cache: editing a data file re-runs what reads it.

Real kernels through `liminal-nb run` (about 1.5 s a step); the runs ledger's step
records say which steps ran and which were cache hits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import code

from liminal_jupyter.cli import main
from liminal_jupyter.engines.local.cache import step_cache_key
from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.step import workspace


def project(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("x\n1\n2\n3\n")
    (root / "data" / "test.csv").write_text("x\n10\n")
    (root / "config.yaml").write_text("scale: 2\n")
    (root / "helpers.py").write_text(
        "def column(text):\n    return [int(v) for v in text.split()[1:]]\n")


CELLS = [
    code("import yaml\nimport helpers", "imports"),
    code("folder = 'data/'\nconfig = yaml.safe_load(open('config.yaml'))", "step:config"),
    code("train = helpers.column(open(folder + 'train.csv').read())", "step:load_train"),
    code("test = helpers.column(open(f'{folder}test.csv').read())", "step:load_test"),
    code("model = sum(train) * config['scale']", "step:train"),
    code("score = model + sum(test)", "step:evaluate"),
]


def run(capsys, notebook: Path) -> dict[str, str]:
    """`liminal-nb run NOTEBOOK --no-tracking`, which must succeed: {step: status}."""
    status = main(["run", str(notebook), "--no-tracking"])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    store = RunStore(notebook.parent / ".liminal")
    run_id = store.list_runs(limit=1)[0].run_id
    return {r.step: r.status for r in store.steps(run_id)}


def test_editing_a_data_file_reruns_the_step_that_reads_it_and_its_dependants(
        write_nb, tmp_path, capsys, monkeypatch):
    project(tmp_path)
    notebook = write_nb(CELLS)
    steps = ["config", "load_train", "load_test", "train", "evaluate"]
    assert set(run(capsys, notebook).values()) == {"succeeded"}

    hashed: list[str] = []  # files read to hash them, counted on the real function
    real_hash = workspace._file_hash
    monkeypatch.setattr(workspace, "_file_hash",
                        lambda path: hashed.append(path.name) or real_hash(path))
    assert run(capsys, notebook) == dict.fromkeys(steps, "cached")
    # once per run: four files, though five steps name helpers.py and each is looked up
    assert sorted(hashed) == ["config.yaml", "helpers.py", "test.csv", "train.csv"]

    (tmp_path / "data" / "test.csv").write_text("x\n20\n")
    assert run(capsys, notebook) == {
        "config": "cached", "load_train": "cached", "load_test": "succeeded",
        "train": "cached", "evaluate": "succeeded"}

    # a comment in the config re-runs the step reading it; the value it makes is the same
    # bytes, so the steps reading that value stay cached
    with (tmp_path / "config.yaml").open("a") as handle:
        handle.write("# tuned by hand\n")
    assert run(capsys, notebook) == {
        "config": "succeeded", "load_train": "cached", "load_test": "cached",
        "train": "cached", "evaluate": "cached"}


def test_the_key_covers_the_content_of_the_steps_workspace_files(parse, tmp_path):
    project(tmp_path)
    pipeline = parse(CELLS)
    assert pipeline.step("load_test").files == ["data/test.csv", "helpers.py"]
    assert pipeline.step("evaluate").files == ["helpers.py"]

    def key(step: str, files: dict[str, str]) -> str:
        inputs = {"folder": "f" * 64, "config": "c" * 64, "train": "a" * 64,
                  "test": "b" * 64, "model": "d" * 64}
        return step_cache_key(pipeline, step, {}, inputs, "python3", files)

    hashes = {"data/test.csv": "1" * 64, "helpers.py": "2" * 64}
    assert key("load_test", hashes) != key("load_test", {**hashes, "data/test.csv": "3" * 64})
    assert key("evaluate", hashes) == key("evaluate", {**hashes, "data/test.csv": "3" * 64})
    with pytest.raises(ValueError, match="workspace files data/test.csv"):
        key("load_test", {"helpers.py": "2" * 64})
