"""The Deploy half: promote a registered model, serve it, score with it, watch its data.

Everything here wraps MLflow (registry, scoring server, pyfunc); MLflow is imported only
when a function that needs it runs.
"""
