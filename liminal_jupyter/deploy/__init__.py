"""The Deploy half: promote a registered model, serve it, score with it, watch its data.

Everything here wraps MLflow (registry, scoring server, pyfunc); MLflow is imported only
when a function that needs it runs.
"""


def load_model(name: str, **which: object) -> object:
    """A registered model for an inference step; see `deploy.inference.load_model`."""
    from liminal_jupyter.deploy.inference import load_model as load

    return load(name, **which)  # type: ignore[arg-type]


def check_drift(model: str, new_data: object, **options: object) -> object:
    """Fail a monitor step when data drifted; see `deploy.monitor.check_drift`."""
    from liminal_jupyter.deploy.monitor import check_drift as check

    return check(model, new_data, **options)  # type: ignore[arg-type]
