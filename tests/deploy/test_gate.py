"""Which runs may promote their model: the rules of deploy/gate.py, without MLflow."""

from liminal_jupyter.deploy.gate import decide
from liminal_jupyter.notebook.settings import threshold_problems

PHASES = {"train": "train", "evaluate": "evaluate", "validate": "validate"}
ALL_OK = {"train": "succeeded", "evaluate": "succeeded", "validate": "succeeded"}


def test_a_run_that_passed_validation_and_its_thresholds_is_promoted():
    decision = decide({"thresholds": {"accuracy": 0.9, "rmse": {"max": 0.5}}}, PHASES,
                      ALL_OK, {"accuracy": 0.95, "rmse": 0.2})
    assert decision.allowed and decision.alias == "champion"
    assert "accuracy = 0.95" in decision.describe()


def test_a_failed_validate_step_blocks_promotion():
    states = {**ALL_OK, "validate": "failed"}
    decision = decide({}, PHASES, states, {"accuracy": 0.99})
    assert not decision.allowed
    assert decision.reasons == ["validate step 'validate' failed"]


def test_a_metric_outside_its_bound_or_missing_blocks_promotion():
    settings = {"thresholds": {"accuracy": 0.9, "rmse": {"max": 0.5}, "f1": 0.8}}
    decision = decide(settings, PHASES, ALL_OK, {"accuracy": 0.85, "rmse": 0.7})
    assert not decision.allowed
    assert decision.reasons == [
        "accuracy = 0.85 is below its minimum 0.9",
        "rmse = 0.7 is above its maximum 0.5",
        "metric f1 was not logged by this run (threshold 0.8)",
    ]


def test_the_alias_comes_from_the_notebook_and_cached_steps_count_as_passed():
    states = {**ALL_OK, "train": "cached"}
    decision = decide({"alias": "production"}, PHASES, states, {})
    assert decision.allowed and decision.alias == "production"


def test_a_failed_run_without_a_validate_step_is_not_promoted():
    decision = decide({}, {"train": "train"}, {"train": "failed"}, {})
    assert not decision.allowed and "did not succeed" in decision.reasons[0]


def test_malformed_thresholds_are_named():
    assert threshold_problems({"accuracy": 0.9, "rmse": {"max": 1}}) == []
    problems = threshold_problems({"accuracy": "high", "rmse": {"below": 1}})
    assert len(problems) == 2 and "thresholds.accuracy" in problems[0]
    assert threshold_problems([0.9]) == ["thresholds must be an object mapping metric names "
                                         "to bounds"]


def test_bad_thresholds_in_notebook_metadata_are_an_inspect_error(parse):
    from conftest import code, codes

    pipeline = parse([code("x = 1", "step:a")],
                     metadata={"liminal": {"thresholds": {"accuracy": "high"}}})
    assert "bad-setting" in codes(pipeline)
