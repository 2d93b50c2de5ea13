"""A folder's first MLflow database is a copy of a cached empty one (tracking/store_seed.py),
and MLflow uses it as one it created itself."""

from __future__ import annotations

import sqlite3

from liminal_jupyter.tracking.store_seed import seed_sqlite_store, template_path


def test_a_new_store_is_seeded_from_the_cache_and_works_as_mlflow_s_own(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, second = tmp_path / "a" / ".liminal" / "mlflow.db", tmp_path / "b" / "mlflow.db"
    assert seed_sqlite_store(first)
    template = template_path()
    made = template.stat().st_mtime_ns
    assert seed_sqlite_store(second)
    assert template.stat().st_mtime_ns == made  # made once, copied after
    with sqlite3.connect(second) as conn:  # no experiment: MLflow makes its default anew
        assert conn.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)

    import mlflow

    monkeypatch.chdir(tmp_path / "b")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{second}")
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location.startswith(str(tmp_path / "b"))  # this folder's, not a's
    experiment = client.create_experiment("seeded", artifact_location=str(tmp_path / "art"))
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    client.set_terminated(run.info.run_id)
    assert client.get_run(run.info.run_id).data.metrics == {"accuracy": 0.9}
    client.create_registered_model("seeded-model")  # the registry's tables are there too
    assert client.get_registered_model("seeded-model").name == "seeded-model"


def test_an_existing_database_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"a user's database")
    assert not seed_sqlite_store(db)
    assert db.read_bytes() == b"a user's database"
    assert not list(tmp_path.glob(".*seed"))  # no staged copy left behind
