"""The drift figures of deploy/drift.py, on generated data with a known shift."""

import math

import numpy as np
import pandas as pd

from liminal_jupyter.deploy.drift import compare, psi
from liminal_jupyter.tracking.profile import profile


def frame(seed: int, shift: float = 0.0, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.normal(40 + shift, 10, rows),
        "income": rng.lognormal(10, 0.5, rows),
        "city": rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2]),
    })


def test_the_same_distribution_shows_no_drift():
    reference = profile(frame(1))
    drift = {d.feature: d.psi for d in compare(reference, frame(2))}
    assert set(drift) == {"age", "income", "city"}
    assert all(value < 0.05 for value in drift.values()), drift


def test_a_shifted_feature_is_the_most_drifted_and_passes_the_usual_threshold():
    reference = profile(frame(1))
    results = compare(reference, frame(2, shift=15))
    assert results[0].feature == "age" and results[0].psi > 0.2
    assert {d.feature for d in results if d.psi > 0.2} == {"age"}


def test_categories_unseen_in_training_count_as_drift():
    reference = profile(frame(1))
    new = frame(2)
    new["city"] = "z"
    city = next(d for d in compare(reference, new) if d.feature == "city")
    assert city.labels[-1] == "(other)" and city.current[-1] == 1.0 and city.psi > 1


def test_a_missing_column_is_reported_as_missing():
    reference = profile(frame(1))
    missing = next(d for d in compare(reference, frame(2).drop(columns="income"))
                   if d.feature == "income")
    assert missing.missing and math.isinf(missing.psi)


def test_psi_is_zero_for_equal_shares_and_grows_with_the_difference():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert 0 < psi([0.5, 0.5], [0.6, 0.4]) < psi([0.5, 0.5], [0.9, 0.1])


def test_arrays_are_profiled_by_column_position():
    data = np.random.default_rng(0).normal(size=(500, 3))
    reference = profile(data)
    assert list(reference["features"]) == ["0", "1", "2"]
    assert all(d.psi < 0.1 for d in compare(reference, data))
