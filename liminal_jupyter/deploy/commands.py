"""`liminal-nb deploy`, `predict` and `monitor`: the Deploy phase from a terminal.

Only argparse definitions live at import time; MLflow is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_DEPLOY_HELP = """\
Serve a registered model as a local REST inference service (MLflow's scoring server, with
this environment's packages: --env-manager local), and wait until it answers. It serves
until Ctrl-C. MODEL is a registered name (`liminal-nb run` registers each `model:` variable
under its model:VAR=NAME, else the pipeline's name); without --version or --alias the
version with the 'champion' alias is served, else the latest. With --kserve, nothing is
served: a KServe InferenceService manifest is written for a cluster.

The tracking store is --tracking-uri, else MLFLOW_TRACKING_URI, else the notebook's
liminal.mlflow_uri (when --dir is a notebook), else .liminal/ in --dir, where `liminal-nb
run` keeps it.
"""

_DEPLOY_EPILOG = """\
examples:
  liminal-nb deploy iris-classification --dir example_notebooks
  liminal-nb deploy iris-classification --alias champion --port 5005
  curl -X POST http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' \\
       -d '{"dataframe_records": [{"sepal_length": 5.1, "sepal_width": 3.5,
            "petal_length": 1.4, "petal_width": 0.2}]}'
  liminal-nb deploy iris-classification --kserve -o iris-isvc.yaml \\
       --storage-uri s3://models/iris/1
"""

_PREDICT_HELP = """\
Batch inference: score every row of a CSV, JSON or Parquet file with a registered model
and write the rows with a `prediction` column (CSV to stdout, or to -o). The model is
chosen as for `deploy`.
"""

_PREDICT_EPILOG = """\
examples:
  liminal-nb predict iris-classification new_flowers.csv --dir example_notebooks
  liminal-nb predict iris-classification rows.json --version 3 -o scored.csv
"""


def add_deploy_commands(commands: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    deploy = commands.add_parser("deploy", help="serve a registered model as a REST service",
                                 description=_DEPLOY_HELP, epilog=_DEPLOY_EPILOG,
                                 formatter_class=raw)
    _model_arguments(deploy)
    deploy.add_argument("--port", type=int, default=5001, help="port (default 5001)")
    deploy.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    deploy.add_argument("--kserve", action="store_true",
                        help="write a KServe InferenceService manifest instead of serving")
    deploy.add_argument("-o", "--output", metavar="PATH",
                        help="with --kserve: where to write (default NAME-isvc.yaml)")
    deploy.add_argument("--storage-uri", metavar="URI",
                        help="with --kserve: where the cluster reads the model (s3://, gs://, "
                        "pvc://; default: the model's artifact location)")
    deploy.add_argument("--namespace", help="with --kserve: the Kubernetes namespace")
    deploy.set_defaults(handler=_deploy)

    predict = commands.add_parser("predict", help="score a file of rows with a registered model",
                                  description=_PREDICT_HELP, epilog=_PREDICT_EPILOG,
                                  formatter_class=raw)
    _model_arguments(predict)
    predict.add_argument("input", help="a .csv, .json, .jsonl or .parquet file of rows")
    predict.add_argument("-o", "--output", metavar="PATH",
                         help="write the scored rows here (.csv or .json; default stdout CSV)")
    predict.set_defaults(handler=_predict)


_MONITOR_HELP = """\
Compare new data with the data a registered model was trained on: the population stability
index (PSI) of every feature, against the training data profile `liminal-nb run` logged
with the model (or --reference). The figures are logged to MLflow as a run of their own
and an HTML report with a chart per feature is written. Exit status 1 when a feature's PSI
passes the threshold (--threshold, else the notebook's liminal.drift_threshold when --dir
is a notebook, else 0.2), 0 otherwise, 2 for bad input. The model is chosen as for deploy.
"""

_MONITOR_EPILOG = """\
examples:
  liminal-nb monitor iris-classification new_flowers.csv --dir example_notebooks
  liminal-nb monitor iris-classification week48.parquet --threshold 0.1 --report drift.html
  liminal-nb monitor my-model new.csv --reference train.csv
"""


def add_monitor_command(commands: argparse._SubParsersAction) -> None:
    monitor = commands.add_parser("monitor", help="check new data for drift from a model's "
                                  "training data", description=_MONITOR_HELP,
                                  epilog=_MONITOR_EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    _model_arguments(monitor)
    monitor.add_argument("input", help="the new data: a .csv, .json, .jsonl or .parquet file")
    monitor.add_argument("--threshold", type=float, help="PSI above which a feature drifted")
    monitor.add_argument("--reference", metavar="FILE",
                         help="the training data, when the model has no logged profile")
    monitor.add_argument("--report", metavar="PATH",
                         help="where to write the HTML report (default: "
                         "drift-MODEL-TIME.html in the current folder)")
    monitor.set_defaults(handler=_monitor)


def _monitor(args: argparse.Namespace) -> int:
    import time

    from liminal_jupyter.deploy.monitor import NoReference, default_threshold, monitor
    from liminal_jupyter.deploy.predict import InputError, read_rows

    try:
        new_data = read_rows(Path(args.input))
        reference = read_rows(Path(args.reference)) if args.reference else None
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    resolved = _resolve(args)
    if resolved is None:
        return EXIT_INVALID
    tracking_uri, model = resolved
    threshold = args.threshold
    if threshold is None:
        settings = {}
        if Path(args.dir).suffix == ".ipynb":
            from liminal_jupyter.notebook.parse import parse_notebook

            settings = parse_notebook(args.dir).settings or {}
        threshold = default_threshold(settings)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = Path(args.report or f"drift-{(model.name or 'model')}-{stamp}.html")
    try:
        result = monitor(tracking_uri, model, new_data, threshold=threshold,
                         reference_data=reference, report_path=report)
    except NoReference as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(result.summary())
    for feature in result.features:
        mark = "DRIFT" if feature.psi > result.threshold else "ok"
        psi = "missing" if feature.missing else f"{feature.psi:.3f}"
        print(f"  {feature.feature:<30} {feature.kind:<12} PSI {psi:>8}  {mark}")
    print(f"report: {report}" + (f"; MLflow run {result.tracking_run_id}"
                                 if result.tracking_run_id else ""))
    return EXIT_FAILED if result.drifted else EXIT_OK


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name (or a models:/ or runs:/ URI)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", help="a version number")
    which.add_argument("--alias", help="an alias, such as champion")
    parser.add_argument("--dir", default=".",
                        help="the notebook (or its folder) whose runs logged the model "
                        "(default: .)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (see above)")


def _resolve(args: argparse.Namespace):
    """(tracking uri, ResolvedModel), or None after printing why not."""
    from liminal_jupyter.deploy.registry import ModelNotFound, resolve_model
    from liminal_jupyter.tracking.uri import tracking_uri_for

    uri = tracking_uri_for(args.tracking_uri, args.dir)
    _quiet_mlflow()
    try:
        return uri, resolve_model(uri, args.model, args.version, args.alias)
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _deploy(args: argparse.Namespace) -> int:
    resolved = _resolve(args)
    if resolved is None:
        return EXIT_INVALID
    tracking_uri, model = resolved
    if args.kserve:
        return _write_kserve(args, tracking_uri, model)
    from liminal_jupyter.deploy.serve import ServeError, serve_model

    _stop_on_sigterm()
    print(f"starting a server for {model.describe()} ...", file=sys.stderr, flush=True)
    try:
        served = serve_model(model.uri, tracking_uri, host=args.host, port=args.port)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID if "already in use" in str(exc) else EXIT_FAILED
    print(f"serving {model.describe()} at {served.invocations_url} (Ctrl-C stops it)",
          flush=True)
    try:
        served.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
    return EXIT_OK


def _write_kserve(args: argparse.Namespace, tracking_uri: str, model) -> int:
    import yaml
    from mlflow import MlflowClient

    from liminal_jupyter.atomic import atomic_write_text
    from liminal_jupyter.deploy.kserve import inference_service, service_name, storage_is_local

    storage = args.storage_uri
    if not storage:
        client = MlflowClient(tracking_uri=tracking_uri)
        storage = (client.get_model_version_download_uri(model.name, model.version)
                   if model.name else model.uri)
    name = model.name or Path(model.uri).name
    manifest = inference_service(f"{name}-{model.version}" if model.version else name, storage,
                                 namespace=args.namespace)
    output = Path(args.output or f"{service_name(name)}-isvc.yaml")
    atomic_write_text(output, yaml.safe_dump(manifest, sort_keys=False))
    print(f"wrote {output} (InferenceService {manifest['metadata']['name']}, "
          f"model {model.describe()})")
    if storage_is_local(storage):
        print(f"note: the model is stored at {storage}, which a cluster cannot read: copy the "
              "model folder to object storage and pass --storage-uri", file=sys.stderr)
    print(f"apply it with: kubectl apply -f {output}")
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from liminal_jupyter.deploy.predict import InputError, predict_rows, read_rows

    try:
        rows = read_rows(Path(args.input))  # a bad file is reported before the model loads
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    resolved = _resolve(args)
    if resolved is None:
        return EXIT_INVALID
    tracking_uri, model = resolved
    try:
        scored = predict_rows(model.uri, tracking_uri, rows)
    except Exception as exc:  # the model refused the rows: its own message says why
        print(f"error: {model.describe()} could not score {args.input}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.output:
        from liminal_jupyter.atomic import atomic_write_text

        output = Path(args.output)
        text = (scored.to_json(orient="records") if output.suffix == ".json"
                else scored.to_csv(index=False))
        atomic_write_text(output, text)
        print(f"wrote {len(scored)} scored rows to {output} ({model.describe()})",
              file=sys.stderr)
    else:
        sys.stdout.write(scored.to_csv(index=False))
    return EXIT_OK


def _quiet_mlflow() -> None:
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")


def _stop_on_sigterm() -> None:
    """SIGTERM stops the server like Ctrl-C does: the scoring server runs in a session of
    its own, so it must be stopped by us, not left behind."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
