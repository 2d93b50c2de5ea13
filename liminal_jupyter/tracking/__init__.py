"""MLflow tracking of pipeline runs: one MLflow run per pipeline run, a nested run per step."""
