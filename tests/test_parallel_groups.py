"""`make test` runs tests in parallel (pytest-xdist, --dist loadgroup) and relies on the
tests of one module that share a module-scoped fixture running in one worker, in order:
tests/engines/local/test_partial.py builds on the runs its earlier tests made. pytest 9.2
silently broke that grouping (pytest-dev/pytest-xdist#1386: the group mark no longer
reached the scheduler), and the symptom was a flaky test far from the cause. This module
shares a fixture the same way and fails when its tests land in different workers.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def shared_note(tmp_path_factory):
    # Under xdist each worker's basetemp is a folder of the session's, which all share.
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "parallel-groups"
    folder.mkdir(exist_ok=True)
    return folder / "first-test-worker.txt"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "serial")


def test_the_first_test_of_a_group_notes_its_worker(shared_note):
    shared_note.write_text(_worker())


def test_the_next_test_of_the_group_runs_in_the_same_worker_after_it(shared_note):
    assert shared_note.exists(), "this test ran before the first of its group, in another worker"
    assert shared_note.read_text() == _worker(), (
        f"the first test ran in {shared_note.read_text()}, this one in {_worker()}: "
        "--dist loadgroup is not grouping (see the module docstring)")
