"""Monitoring a registered model's data: drift against its training data, logged and reported.

Used from a terminal (`liminal-nb monitor MODEL new.csv`) and from a notebook step of phase
monitor (`check_drift(...)`), which fails the step, and so the run, when drift passes the
threshold. The figures go to MLflow as a run of their own next to the model's training
runs, and into a readable HTML report with a chart per feature.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liminal_jupyter.deploy.drift import DEFAULT_THRESHOLD, FeatureDrift, compare
from liminal_jupyter.deploy.registry import ResolvedModel
from liminal_jupyter.tracking.profile import REFERENCE_PROFILE, profile

THRESHOLD_ENV = "LIMINAL_DRIFT_THRESHOLD"


class DriftDetected(Exception):
    """New data drifted past the threshold; the message names the features."""

    def __init__(self, result: MonitorResult):
        self.result = result
        super().__init__(result.summary())


class NoReference(Exception):
    """There is no training data profile to compare with; the message says what to pass."""


@dataclass
class MonitorResult:
    model: str
    threshold: float
    features: list[FeatureDrift]
    rows: int
    tracking_run_id: str | None = None
    report_path: Path | None = None

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.psi > self.threshold]

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)

    def summary(self) -> str:
        if not self.drifted:
            return (f"no drift in {self.model}'s {len(self.features)} features over "
                    f"{self.rows} rows (largest PSI {self.max_psi:.3f} <= {self.threshold})")
        names = ", ".join(f"{f.feature} (PSI {_psi_text(f)})" for f in self.drifted)
        return (f"drift in {len(self.drifted)} of {len(self.features)} features of "
                f"{self.model} over {self.rows} rows, threshold {self.threshold}: {names}")


def default_threshold(settings: dict[str, Any] | None = None) -> float:
    """The notebook's liminal.drift_threshold, else $LIMINAL_DRIFT_THRESHOLD, else 0.2."""
    value = (settings or {}).get("drift_threshold")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(os.environ[THRESHOLD_ENV])
    except (KeyError, ValueError):
        return DEFAULT_THRESHOLD


def reference_profile(tracking_uri: str, model: ResolvedModel,
                      reference_data: Any = None) -> dict[str, Any]:
    """The profile to compare with: of `reference_data` if given, else the one logged with
    the model by `liminal-nb run`."""
    if reference_data is not None:
        return profile(reference_data)
    if not model.run_id:
        raise NoReference(f"{model.describe()} is not a registered version, so it has no "
                          "training data profile: pass the training data (--reference)")
    import json
    import tempfile

    from mlflow import MlflowClient

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = MlflowClient(tracking_uri=tracking_uri).download_artifacts(
                model.run_id, REFERENCE_PROFILE, folder)
            return json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:
        raise NoReference(f"{model.describe()} was logged without a training data profile "
                          f"({type(exc).__name__}); pass the training data with --reference"
                          ) from None


def monitor(tracking_uri: str, model: ResolvedModel, new_data: Any, *,
            threshold: float | None = None, reference_data: Any = None,
            report_path: Path | None = None, log: bool = True) -> MonitorResult:
    """Compare `new_data` with the model's training data; log the figures (and the report)
    to MLflow as a run in the model's experiment; write the HTML report if asked."""
    reference = reference_profile(tracking_uri, model, reference_data)
    result = MonitorResult(model.describe(), DEFAULT_THRESHOLD if threshold is None
                           else float(threshold), compare(reference, new_data), len(new_data))
    report = render_report(result, reference)
    if report_path is not None:
        from liminal_jupyter.atomic import atomic_write_text

        atomic_write_text(report_path, report)
        result.report_path = report_path
    if log:
        result.tracking_run_id = _log(tracking_uri, model, result, report)
    return result


def check_drift(model: str, new_data: Any, *, version: str | None = None,
                alias: str | None = None, threshold: float | None = None,
                tracking_uri: str | None = None, reference_data: Any = None) -> MonitorResult:
    """For a monitor step in a notebook: raise DriftDetected (failing the step) when
    `new_data` drifted from `model`'s training data; return the result otherwise."""
    from liminal_jupyter.deploy.registry import resolve_model
    from liminal_jupyter.tracking.uri import tracking_uri_for

    uri = tracking_uri_for(tracking_uri)
    resolved = resolve_model(uri, model, version, alias)
    result = monitor(uri, resolved, new_data, reference_data=reference_data,
                     threshold=default_threshold() if threshold is None else threshold)
    if result.drifted:
        raise DriftDetected(result)
    return result


def _log(tracking_uri: str, model: ResolvedModel, result: MonitorResult, report: str) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = "0"
    if model.run_id:
        experiment_id = client.get_run(model.run_id).info.experiment_id
    run = client.create_run(experiment_id, run_name=f"monitor {result.model}", tags={
        "liminal.monitor": "true", "liminal.model": result.model,
        "liminal.drift": "detected" if result.drifted else "none"})
    now = int(time.time() * 1000)
    finite = [f for f in result.features if f.psi != float("inf")]
    metrics = [Metric(f"psi.{_metric_name(f.feature)}", f.psi, now, 0) for f in finite]
    metrics += [Metric("max_psi", max((f.psi for f in finite), default=0.0), now, 0),
                Metric("drifted_features", float(len(result.drifted)), now, 0),
                Metric("rows", float(result.rows), now, 0)]
    client.log_batch(run.info.run_id, metrics=metrics)
    client.log_param(run.info.run_id, "threshold", result.threshold)
    client.log_text(run.info.run_id, report, "drift_report.html")
    with contextlib.redirect_stdout(io.StringIO()):  # MLflow prints "View run at ..."
        client.set_terminated(run.info.run_id)
    return run.info.run_id


def _metric_name(feature: str) -> str:
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in feature)


def _psi_text(feature: FeatureDrift) -> str:
    return "missing" if feature.missing else f"{feature.psi:.3f}"


# -- the HTML report ----------------------------------------------------------------------
def render_report(result: MonitorResult, reference: dict[str, Any]) -> str:
    """A self-contained page: the verdict, a table, and a bar chart per feature (inline SVG,
    reference and new shares side by side), readable offline and in MLflow's artifact view."""
    verdict = "Drift detected" if result.drifted else "No drift"
    rows = "".join(
        f"<tr class='{'bad' if f.psi > result.threshold else ''}'><td>{html.escape(f.feature)}"
        f"</td><td>{f.kind}</td><td>{_psi_text(f)}</td>"
        f"<td>{'drifted' if f.psi > result.threshold else 'ok'}</td></tr>"
        for f in result.features)
    charts = "".join(_chart(f, result.threshold) for f in result.features if not f.missing)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{verdict}: {html.escape(result.model)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 4px 10px; border-bottom: 1px solid #ddd; }}
tr.bad td {{ background: #fde2e1; }} .chart {{ display: inline-block; margin: 1em; }}
.legend span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }}
</style></head><body>
<h1>{verdict}: {html.escape(result.model)}</h1>
<p>{html.escape(result.summary())}.</p>
<p>Population stability index (PSI) per feature, new data ({result.rows} rows) against the
training data ({reference.get('rows', '?')} rows); threshold {result.threshold}.</p>
<table><tr><th>feature</th><th>kind</th><th>PSI</th><th></th></tr>{rows}</table>
<p class="legend"><span style="background:#8da0cb"></span>training data
<span style="background:#fc8d62"></span>new data</p>
{charts}
</body></html>
"""


def _chart(feature: FeatureDrift, threshold: float) -> str:
    width, height, pad = 360, 160, 24
    n = max(1, len(feature.labels))
    top = max([*feature.reference, *feature.current, 0.01])
    slot = (width - 2 * pad) / n
    bars = []
    for i, (ref, cur) in enumerate(zip(feature.reference, feature.current, strict=True)):
        x = pad + i * slot
        for j, (share, colour) in enumerate(((ref, "#8da0cb"), (cur, "#fc8d62"))):
            h = (height - 2 * pad) * share / top
            bars.append(f"<rect x='{x + j * slot / 2:.1f}' y='{height - pad - h:.1f}' "
                        f"width='{max(slot / 2 - 1, 1):.1f}' height='{h:.1f}' fill='{colour}'>"
                        f"<title>{html.escape(feature.labels[i])}: "
                        f"{share:.1%}</title></rect>")
    flag = " (drifted)" if feature.psi > threshold else ""
    return (f"<div class='chart'><svg width='{width}' height='{height}' role='img' "
            f"aria-label='{html.escape(feature.feature)}'>"
            f"<text x='{pad}' y='14' font-size='13'>{html.escape(feature.feature)}: PSI "
            f"{feature.psi:.3f}{flag}</text>{''.join(bars)}"
            f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' "
            "stroke='#999'/></svg></div>")
