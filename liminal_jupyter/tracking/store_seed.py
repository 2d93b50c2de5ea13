"""A notebook folder's first MLflow database, copied from a ready-made empty one.

MLflow creates a new SQLite store by running its whole history of schema migrations: about
4 s here, paid on the first tracked run of every notebook folder (each has its own
`.liminal/mlflow.db`), and most of the first `make demo`. The result depends only on the
MLflow version, so it is made once per version, cached under
$XDG_CACHE_HOME/liminal-jupyter (default ~/.cache), and copied (milliseconds).

The cached copy holds no experiment: MLflow's default experiment records the artifact
root of the folder it was created for, so it is removed from the copy and MLflow creates
it again, for the new folder, when it opens the database (it does so for any store
without one). A database that exists is never touched; two first runs at once cannot
overwrite each other's (the copy is linked into place, which fails if the name exists).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path


def seed_sqlite_store(path: Path) -> bool:
    """Put an empty, migrated MLflow database at `path` if there is none; True if done.

    Best effort: whatever goes wrong, MLflow creates the database itself as before."""
    if path.exists():
        return False
    try:
        template = _template()
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{os.getpid()}.seed")
        shutil.copyfile(template, staged)
        try:
            os.link(staged, path)  # fails if the database appeared meanwhile
        except FileExistsError:
            return False
        finally:
            staged.unlink(missing_ok=True)
        return True
    except Exception:
        return False


def template_path() -> Path:
    """Where the empty database of the installed MLflow version is cached."""
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "liminal-jupyter" / f"mlflow-{version('mlflow')}" / "empty.db"


def _template() -> Path:
    """The cached empty database, made first if missing (concurrent makers: the last
    rename wins, and every one is whole)."""
    target = template_path()
    if target.is_file():
        return target
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from liminal_jupyter.tracking.session import quiet_store_setup

    quiet_store_setup()
    with tempfile.TemporaryDirectory(prefix="liminal-mlflow-seed-") as tmp:
        db = Path(tmp) / "mlflow.db"
        store = SqlAlchemyStore(f"sqlite:///{db}", str(Path(tmp) / "artifacts"))
        store.engine.dispose()
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
            conn.execute("DELETE FROM experiments WHERE experiment_id = 0")
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.copyfile(db, staged)
        os.replace(staged, target)
    return target
