"""The Airflow tests' session fixture, registered once in tests/conftest.py: one cache
folder per test session (per xdist worker), so Airflow's database is migrated once and
copied for every run, whichever test module runs first."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def airflow_cache(tmp_path_factory) -> Path:
    """One cache folder for the session: the database is migrated once and copied."""
    return tmp_path_factory.mktemp("airflow-cache")
