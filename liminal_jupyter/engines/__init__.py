"""Engines: where a pipeline runs. `base` is the one interface (Engine, Capabilities,
RunRequest, RunResult), `registry` the one list (an entry-point group), `recorded` the
recorded-run template that child-process engines share. One subpackage per engine:
local/ (this machine's runner), kfp/ (Kubeflow Pipelines, and kfp.local), airflow/
(Apache Airflow). Engines import the runs ledger, the step executor and the IR, never
each other; only the faces (cli, server, api, widgets) import the registry.
"""
