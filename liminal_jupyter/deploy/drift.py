"""Data drift: how far new data has moved from the data a model was trained on.

The training data is summarised once, when the model is logged, into a small JSON profile
(tracking/profile.py owns that format), so monitoring needs neither the training data nor
the run that made it. New data is compared feature by feature with the population
stability index (PSI), the usual figure in model monitoring: sum over bins of
(new - reference) * ln(new / reference). Rules of thumb: below 0.1 no shift, 0.1 to 0.2
moderate, above 0.2 significant (our default threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from liminal_jupyter.tracking.profile import numeric_shares

EPSILON = 1e-4  # a share of zero would make the logarithm infinite
DEFAULT_THRESHOLD = 0.2


@dataclass
class FeatureDrift:
    feature: str
    kind: str  # "numeric" or "categorical"
    psi: float
    labels: list[str]  # the bins or categories
    reference: list[float]  # shares of the training data, one per label
    current: list[float]  # shares of the new data
    missing: bool = False  # the new data has no such column

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "kind": self.kind, "psi": self.psi,
                "labels": self.labels, "reference": self.reference, "current": self.current,
                "missing": self.missing}


def compare(reference: dict[str, Any], frame: Any) -> list[FeatureDrift]:
    """PSI of every profiled feature, the most drifted first."""
    import numpy as np
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame)).rename(columns=str)
    columns = {str(c): c for c in frame.columns}
    results = []
    for name, feature in reference["features"].items():
        if name not in columns:
            results.append(FeatureDrift(name, feature["kind"], math.inf, [], [], [], True))
            continue
        values = frame[columns[name]].dropna()
        if feature["kind"] == "numeric":
            edges = feature["edges"]
            current = numeric_shares(pd.to_numeric(values, errors="coerce").dropna()
                                      .to_numpy(dtype=float), edges)
            labels = _bin_labels(edges)
            ref = feature["shares"]
        else:
            categories = feature["categories"]
            counts = values.astype(str).value_counts(normalize=True)
            current = [float(counts.get(c, 0.0)) for c in categories]
            current.append(max(0.0, 1.0 - sum(current)))  # unseen categories
            ref = [*feature["shares"], max(0.0, 1.0 - sum(feature["shares"]))]
            labels = [*categories, "(other)"]
        results.append(FeatureDrift(name, feature["kind"], psi(ref, current), labels,
                                    list(ref), current))
    return sorted(results, key=lambda r: -r.psi)


def psi(reference: list[float], current: list[float]) -> float:
    total = 0.0
    for ref, cur in zip(reference, current, strict=True):
        ref, cur = max(ref, EPSILON), max(cur, EPSILON)
        total += (cur - ref) * math.log(cur / ref)
    return total


def _bin_labels(edges: list[float]) -> list[str]:
    bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
    return [f"{low}..{high}" for low, high in zip(bounds, bounds[1:], strict=False)]
