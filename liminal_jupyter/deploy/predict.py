"""Batch inference: a file of rows in, the same rows with the model's predictions out.

The model is loaded with MLflow's python-function flavor, so any model `liminal-nb run`
logged (scikit-learn, or anything with `predict`) scores the same way here, in a serving
container, or in an inference step of a notebook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class InputError(Exception):
    """The input file cannot be read as rows; the message says which forms work."""


def read_rows(path: Path) -> Any:
    """A DataFrame from CSV, or from JSON: a list of records, MLflow's serving payloads
    ({"dataframe_records": [...]}, {"dataframe_split": {...}}, {"inputs": [...]})."""
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".json", ".jsonl"):
            if suffix == ".jsonl":
                return pd.read_json(path, lines=True)
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and "dataframe_split" in data:
                return pd.DataFrame(**data["dataframe_split"])
            if isinstance(data, dict):
                data = data.get("dataframe_records", data.get("inputs", data.get("instances")))
            if isinstance(data, list):
                return pd.DataFrame(data)
            raise InputError(f"{path}: expected a list of rows or an MLflow payload "
                             '({"dataframe_records": [...]}, {"dataframe_split": ...}, '
                             '{"inputs": [...]})')
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as rows: {exc}") from exc
    raise InputError(f"{path}: use a .csv, .json, .jsonl or .parquet file")


def predict_rows(model_uri: str, tracking_uri: str, rows: Any) -> Any:
    """The rows (a DataFrame, from `read_rows`) with a `prediction` column (or one column
    per output) added."""
    import mlflow.pyfunc
    import pandas as pd

    from liminal_jupyter.tracking.session import global_tracking_uri

    with global_tracking_uri(tracking_uri):  # put back after: callers keep their own URI
        model = mlflow.pyfunc.load_model(model_uri)
    predictions = model.predict(rows)
    if isinstance(predictions, pd.DataFrame):
        outputs = predictions.add_prefix("prediction_") if len(predictions.columns) > 1 else (
            predictions.set_axis(["prediction"], axis=1))
    else:
        outputs = pd.DataFrame({"prediction": list(predictions)})
    return pd.concat([rows.reset_index(drop=True), outputs.reset_index(drop=True)], axis=1)
