"""Notebook CI: `liminal-nb test` and the pytest plugin.

Every notebook of a repository runs as a test case, once with its defaults and once per
parameter set of its matrix, either straight through papermill or as a pipeline through
the local runner. Each case runs in a child process of its own (`execute.py`), so a
timeout can stop it whatever it is doing; the parent (`runner.py`) schedules cases in
parallel, and `report.py` and `junit.py` say what happened to people and to CI systems.
"""
