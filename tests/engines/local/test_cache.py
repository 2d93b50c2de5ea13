"""The step cache: what changes a step's cache key, and when an earlier result is reused."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import code

from liminal_jupyter.engines.local.cache import CacheIndex, is_cacheable, step_cache_key
from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.step.marshal import save_value

PARAMS = {"lr": 0.1, "epochs": 3}
HASHES = {"data": "a" * 64}


def notebook(
    params: str = "lr = 0.1\nepochs = 3",
    prelude: str = "import math",
    load: str = "data = [1, 2, 3]",
    train: str = "model = sum(data) * lr",
    train_tags: tuple[str, ...] = (),
) -> list[dict]:
    return [
        code(params, "parameters"),
        code(prelude, "imports"),
        code(load, "step:load"),
        code(train, "step:train", *train_tags),
        code("score = math.sqrt(model)", "step:evaluate"),
    ]


@pytest.fixture
def train_key(parse):
    """train_key(cells=notebook(), parameters=PARAMS, hashes=HASHES) -> key of step train.

    The key is computed right after parsing, while the notebook on disk is that one.
    """

    def key(cells=None, parameters=PARAMS, hashes=HASHES, kernel="python3") -> str:
        pipeline = parse(cells or notebook())
        assert pipeline.valid, pipeline.errors
        return step_cache_key(pipeline, "train", parameters, hashes, kernel)

    return key


# -- what the key covers ----------------------------------------------------------------


def test_the_key_is_stable(train_key):
    assert train_key() == train_key()
    assert len(train_key()) == 64


def test_the_key_changes_with_the_steps_own_code(train_key):
    assert train_key(notebook(train="model = sum(data) * lr * 2")) != train_key()


def test_the_key_changes_with_a_parameter_the_step_reads(train_key):
    assert train_key(parameters={**PARAMS, "lr": 0.2}) != train_key()


def test_a_parameter_left_out_counts_as_its_default(train_key):
    assert train_key(parameters={}) == train_key(parameters={"lr": 0.1})


def test_the_key_changes_with_the_content_of_an_input(train_key):
    assert train_key(hashes={"data": "b" * 64}) != train_key()


def test_the_key_changes_with_the_prelude(train_key):
    assert train_key(notebook(prelude="import math\nimport json")) != train_key()


def test_the_key_changes_with_the_parameters_cell(train_key):
    assert train_key(notebook(params="lr = 0.1\nepochs = 3\nseed = 7")) != train_key()


def test_the_key_changes_with_the_kernel(train_key):
    assert train_key(kernel="python3.12") != train_key()


def test_a_parameter_the_step_does_not_read_leaves_the_key_alone(train_key):
    assert train_key(parameters={**PARAMS, "epochs": 50}) == train_key()


def test_another_steps_code_leaves_the_key_alone(train_key):
    # train reads load's output by its content hash, not load's code.
    assert train_key(notebook(load="data = [4, 5, 6]")) == train_key()


def test_hashes_of_inputs_the_step_does_not_read_are_ignored(train_key):
    assert train_key(hashes={**HASHES, "other": "c" * 64}) == train_key()


def test_a_missing_input_hash_is_an_error_not_a_weaker_key(parse):
    pipeline = parse(notebook())
    with pytest.raises(ValueError, match="no content hash for its data inputs data"):
        step_cache_key(pipeline, "train", PARAMS, {}, "python3")


def test_cache_off_makes_a_step_uncacheable(parse):
    pipeline = parse(notebook(train_tags=("cache:off",)))
    assert is_cacheable(pipeline.step("load"))
    assert not is_cacheable(pipeline.step("train"))


# -- finding an earlier result ----------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / ".liminal")


def succeeded_run(store: RunStore, key: str, value=None, status="succeeded", **step) -> tuple:
    """A finished run whose step 'train' has this key and saved `model`."""
    run_id = store.new_run_id()
    store.create_run(run_id, "nb.ipynb", "demo", "local", {}, ["train"])
    outputs = {}
    if value is not None:
        artifacts = store.step_dir(run_id, "train") / "artifacts"
        outputs["model"] = save_value("model", value, artifacts).to_dict()
    store.update_step(run_id, "train", status=status, cache_key=key, outputs=outputs, **step)
    store.finish_run(run_id, "succeeded" if status in ("succeeded", "cached") else "failed")
    return run_id, outputs


def test_lookup_finds_the_newest_intact_result(store):
    older, _ = succeeded_run(store, "k", {"w": 1})
    newer, _ = succeeded_run(store, "k", {"w": 2})

    hit = CacheIndex(store).lookup("k")

    assert hit is not None and hit.run_id == newer
    assert older != newer
    assert CacheIndex(store).lookup("other key") is None


def test_lookup_ignores_results_whose_artifacts_vanished(store):
    older, _ = succeeded_run(store, "k", {"w": 1})
    _, outputs = succeeded_run(store, "k", {"w": 2})
    Path(outputs["model"]["path"]).unlink()

    assert CacheIndex(store).lookup("k").run_id == older


def test_lookup_ignores_results_whose_artifacts_changed(store):
    _, outputs = succeeded_run(store, "k", {"w": 1})
    Path(outputs["model"]["path"]).write_text('{"w": 9}')

    assert CacheIndex(store).lookup("k") is None


def test_lookup_ignores_failed_steps(store):
    succeeded_run(store, "k", {"w": 1}, status="failed")

    assert CacheIndex(store).lookup("k") is None


def test_a_cache_hit_can_be_hit_again_and_points_to_the_original(store):
    original, outputs = succeeded_run(store, "k", {"w": 1}, ended=1.0)
    copy = store.new_run_id()
    store.create_run(copy, "nb.ipynb", "demo", "local", {}, ["train"])
    store.update_step(copy, "train", status="cached", cache_key="k", outputs=outputs,
                      cached_from_run=original, ended=2.0)

    hit = CacheIndex(store).lookup("k")

    assert (hit.run_id, hit.status, hit.origin_run) == (copy, "cached", original)
    Path(outputs["model"]["path"]).unlink()
    assert CacheIndex(store).lookup("k") is None
