"""liminal-jupyter: from a tagged notebook to a pipeline that runs locally, on Kubeflow or Airflow.

Kept import-light on purpose: `liminal-nb --help` and `liminal-nb inspect` must stay fast,
so nothing heavy is imported at package import time.
"""

__version__ = "0.1.0"
