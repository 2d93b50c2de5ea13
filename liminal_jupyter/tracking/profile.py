"""The training data's profile, logged next to a model so drift can be measured later.

Summarised once, when the model is logged, into a small JSON document (per feature:
quantile bins and their shares for numbers, category shares otherwise), so monitoring
(deploy/drift.py, which compares new data with it) needs neither the training data nor the
run that made it. This module owns the profile's format; the drift side only reads it.
"""

from __future__ import annotations

from typing import Any

REFERENCE_PROFILE = "liminal/reference_profile.json"
"""Where the profile is stored, as an artifact of the run that logged the model."""

BINS = 10
MAX_CATEGORIES = 50


def profile(frame: Any) -> dict[str, Any]:
    """The JSON-able summary of a training frame (or a 2-D array) that drift compares with."""
    import numpy as np
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame)).rename(columns=str)
    features: dict[str, Any] = {}
    for column in frame.columns:
        values = frame[column].dropna()
        name = str(column)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.to_numpy(dtype=float)
            edges = sorted(set(np.quantile(numbers, np.linspace(0, 1, BINS + 1))[1:-1]))
            features[name] = {"kind": "numeric", "edges": [float(e) for e in edges],
                              "shares": numeric_shares(numbers, edges),
                              "mean": float(numbers.mean()) if len(numbers) else None}
        else:
            shares = values.astype(str).value_counts(normalize=True)
            top = shares.head(MAX_CATEGORIES)
            features[name] = {"kind": "categorical", "categories": [str(c) for c in top.index],
                              "shares": [float(s) for s in top.to_numpy()]}
    return {"version": 1, "rows": int(len(frame)), "features": features}


def numeric_shares(numbers: Any, edges: list[float]) -> list[float]:
    """The share of `numbers` in each bin the `edges` make (one more bin than edges)."""
    import numpy as np

    if len(numbers) == 0:
        return [0.0] * (len(edges) + 1)
    bins = np.searchsorted(np.asarray(edges, dtype=float), numbers, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return [float(c) / len(numbers) for c in counts]


def log_reference_profile(client: Any, run_id: str, training: Any) -> None:
    """Store the profile of `training` with run `run_id` (MLflow errors propagate)."""
    client.log_dict(run_id, profile(training), REFERENCE_PROFILE)
