"""The run store: what `liminal-nb run` records and `runs`, `show`, `logs` and `--resume` read.

Layout, under `<notebook dir>/.liminal/` (created on demand):

    runs.db                       SQLite index of runs and their steps
    runs/<run_id>/                one folder per run (run id: UTC time + random suffix)
    runs/<run_id>/steps/<step>/   one folder per step: executed notebook, artifacts, logs

Why SQLite: two runs of the same notebook and a reader (`liminal-nb runs`, the panel) must
not block or corrupt each other. WAL journal mode lets readers work while one writer
commits, `busy_timeout` makes a second writer wait its turn instead of failing, and every
write is one short `BEGIN IMMEDIATE` transaction, so a run killed at any moment leaves the
index as it was before or after a write, never in between.

A killed runner cannot record its own end, so readers do it: `get_run` and `list_runs` see
a 'running' run whose runner process is gone (or whose pid now belongs to another process,
told apart by the start time in /proc) and record it as 'interrupted', with its unfinished
steps. Artifacts are never trusted on the record's word alone: `resume_plan` (and the cache)
re-hash each output file and re-run the step when it is missing or changed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.atomic import write_json as atomic_write_json
from liminal_jupyter.step.marshal import file_sha256

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Pipeline

SCHEMA_VERSION = 1
"""Stored in the database's `user_version`; bump it (and migrate) when the tables change."""

RUN_STATUSES = ("running", "succeeded", "failed", "interrupted", "cancelled")
FINAL_RUN_STATUSES = ("succeeded", "failed", "interrupted", "cancelled")
STEP_STATUSES = ("waiting", "running", "succeeded", "cached", "failed", "skipped", "interrupted")
REUSABLE_STEP_STATUSES = ("succeeded", "cached")

DB_NAME = "runs.db"
_BUSY_TIMEOUT_MS = 30_000
_LATEST_SHOWN = 5
# Run ids and step names become folder names: no separators, no '.' or '..'.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_JSON_COLUMNS = frozenset({"parameters", "outputs", "metrics", "error"})

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        notebook TEXT NOT NULL,
        pipeline_name TEXT NOT NULL,
        backend TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        parameters TEXT NOT NULL DEFAULT '{}',
        runner_pid INTEGER,
        runner_start_time INTEGER,
        host TEXT,
        remote_id TEXT,
        tracking_run_id TEXT,
        message TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created)",
    "CREATE INDEX IF NOT EXISTS runs_by_notebook ON runs (notebook, created)",
    """CREATE TABLE IF NOT EXISTS steps (
        run_id TEXT NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL,
        ended REAL,
        attempt INTEGER NOT NULL DEFAULT 0,
        cache_key TEXT,
        cached_from_run TEXT,
        outputs TEXT NOT NULL DEFAULT '{}',
        metrics TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        executed_notebook TEXT,
        log_path TEXT,
        PRIMARY KEY (run_id, step)
    )""",
    "CREATE INDEX IF NOT EXISTS steps_by_cache_key ON steps (cache_key)",
)


class StoreError(Exception):
    """The run store cannot do what was asked; the message says why and what to do."""


class RunNotFound(StoreError, LookupError):
    """No run, or more than one, matches the run id (or prefix) given."""


class RunStillRunning(StoreError):
    """A run that is still running cannot be resumed: its steps would run twice."""


@dataclass
class RunRecord:
    """One run, as the `runs` table holds it. Times are seconds since the epoch (UTC)."""

    run_id: str
    notebook: str
    pipeline_name: str
    backend: str  # 'local', 'kfp', 'kfp-local', 'airflow'
    status: str  # one of RUN_STATUSES
    created: float
    started: float | None = None
    ended: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    runner_pid: int | None = None
    runner_start_time: int | None = None
    host: str | None = None
    remote_id: str | None = None
    tracking_run_id: str | None = None
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_RUN_STATUSES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepRecord:
    """One step of one run. `outputs` maps variable name -> SavedValue dict (marshal.py)."""

    run_id: str
    step: str
    status: str  # one of STEP_STATUSES
    started: float | None = None
    ended: float | None = None
    attempt: int = 0
    cache_key: str | None = None
    cached_from_run: str | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    executed_notebook: str | None = None
    log_path: str | None = None

    @property
    def origin_run(self) -> str:
        """The run that actually computed the outputs (itself, unless it was a cache hit)."""
        return self.cached_from_run or self.run_id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_RUN_COLUMNS = tuple(f.name for f in fields(RunRecord))
_STEP_COLUMNS = tuple(f.name for f in fields(StepRecord))


class _ThisProcess:
    def __repr__(self) -> str:
        return "<the calling process>"


THIS_PROCESS: Any = _ThisProcess()
"""Default of `create_run(runner_pid=...)`: the pid of the process that calls it.

A sentinel rather than `os.getpid()` as the default, which would be evaluated once, at
import, and be wrong in a forked child.
"""


class RunStore:
    """The runs of the notebooks in one folder: `RunStore(Path(notebook).parent / '.liminal')`.

    Cheap to create and safe to use from several threads and processes at once: each call
    opens its own short-lived SQLite connection.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.db_path = self.root / DB_NAME
        self._schema_ready = False

    # -- folders ------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / _safe_name(run_id, "run id")

    def step_dir(self, run_id: str, step: str) -> Path:
        return self.run_dir(run_id) / "steps" / _safe_name(step, "step name")

    def new_run_id(self) -> str:
        """A new, sortable run id like `20261126-123456-ab12` (UTC), and its folder.

        Unique even when two runs start in the same second: the id is reserved by creating
        its folder, which succeeds for exactly one process.
        """
        runs = self.root / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        while True:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"
            try:
                (runs / run_id).mkdir()
            except FileExistsError:
                continue
            return run_id

    # -- writing ------------------------------------------------------------------------
    def create_run(
        self,
        run_id: str,
        notebook: str | os.PathLike[str],
        pipeline_name: str,
        backend: str,
        parameters: dict[str, Any],
        step_names: Iterable[str],
        runner_pid: int | None = THIS_PROCESS,
        **extra: Any,
    ) -> RunRecord:
        """Record a new 'running' run with all its steps 'waiting', in one transaction.

        runner_pid: the process whose death means the run was interrupted; the default is
        the caller. Pass None for a run whose life is not tied to a local process (e.g. one
        submitted to a KFP cluster). extra: any other `RunRecord` field (started, host,
        remote_id, tracking_run_id, message, ...).
        """
        unknown = set(extra) - set(_RUN_COLUMNS)
        if unknown:
            raise TypeError(f"create_run() got unknown fields: {', '.join(sorted(unknown))}")
        if runner_pid is THIS_PROCESS:
            runner_pid = os.getpid()
        now = time.time()
        values: dict[str, Any] = {
            "run_id": _safe_name(run_id, "run id"),
            "notebook": self._notebook_label(notebook),
            "pipeline_name": pipeline_name,
            "backend": backend,
            "status": "running",
            "created": now,
            "started": now,
            "parameters": parameters,
            "runner_pid": runner_pid,
            "runner_start_time": process_start_time(runner_pid) if runner_pid else None,
            "host": socket.gethostname(),
            **extra,
        }
        _check_status(values["status"], RUN_STATUSES, "run")
        steps = [_safe_name(s, "step name") for s in step_names]
        if len(set(steps)) != len(steps):
            raise ValueError(f"run {run_id}: step names repeat: {', '.join(steps)}")
        for step in steps:
            self.step_dir(run_id, step).mkdir(parents=True, exist_ok=True)
        record = RunRecord(**values)
        with self._write() as conn:
            try:
                _insert(conn, "runs", record.to_json())
            except sqlite3.IntegrityError:
                raise StoreError(f"run {run_id} already exists in {self.root}") from None
            for step in steps:
                _insert(conn, "steps", {"run_id": run_id, "step": step, "status": "waiting"})
        return record

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set fields of a run (exact id). Unknown fields and statuses are errors."""
        assignments = _assignments(fields, _RUN_COLUMNS, "run")
        if "status" in fields:
            _check_status(fields["status"], RUN_STATUSES, "run")
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {assignments[0]} WHERE run_id = ?", (*assignments[1], run_id)
            )
            if cur.rowcount == 0:
                raise self._not_found(conn, run_id)

    def update_step(self, run_id: str, step: str, **fields: Any) -> None:
        """Set fields of one step of a run (exact id), e.g. status, outputs, metrics."""
        assignments = _assignments(fields, _STEP_COLUMNS, "step")
        if "status" in fields:
            _check_status(fields["status"], STEP_STATUSES, "step")
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE steps SET {assignments[0]} WHERE run_id = ? AND step = ?",
                (*assignments[1], run_id, step),
            )
            if cur.rowcount == 0:
                if not _exists(conn, run_id):
                    raise self._not_found(conn, run_id)
                raise StoreError(f"run {run_id} has no step {step!r}")

    def add_steps(self, run_id: str, step_names: Iterable[str]) -> None:
        """Record more steps of a running run, 'waiting' (those it has already are left as
        they are): the elements of a fan-out step (`STEP.I`), known only once it starts."""
        steps = [_safe_name(s, "step name") for s in step_names]
        for step in steps:
            self.step_dir(run_id, step).mkdir(parents=True, exist_ok=True)
        with self._write() as conn:
            if not _exists(conn, run_id):
                raise self._not_found(conn, run_id)
            for step in steps:
                conn.execute("INSERT OR IGNORE INTO steps (run_id, step, status) "
                             "VALUES (?, ?, 'waiting')", (run_id, step))

    def finish_run(self, run_id: str, status: str, message: str | None = None) -> None:
        """Record the end of a run; steps left unfinished say why they did not run.

        A step still 'waiting' becomes 'skipped' when the run failed or succeeded (it was
        not needed or an upstream failed) and 'interrupted' otherwise; a step still
        'running' becomes 'interrupted'. So no record claims work is going on after its run
        ended.
        """
        _check_status(status, FINAL_RUN_STATUSES, "finished run")
        left_waiting = "skipped" if status in ("failed", "succeeded") else "interrupted"
        now = time.time()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, ended = ?, message = COALESCE(?, message) "
                "WHERE run_id = ?",
                (status, now, message, run_id),
            )
            if cur.rowcount == 0:
                raise self._not_found(conn, run_id)
            conn.execute(
                "UPDATE steps SET ended = CASE WHEN status = 'running' THEN ? ELSE ended END, "
                "status = CASE WHEN status = 'running' THEN 'interrupted' ELSE ? END "
                "WHERE run_id = ? AND status IN ('waiting', 'running')",
                (now, left_waiting, run_id),
            )

    # -- reading ------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or the one run whose id starts with it.

        Raises RunNotFound, naming the latest runs, when none or several match.
        """
        with self._db() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchall()
            if not rows and run_id:
                rows = conn.execute(
                    "SELECT * FROM runs WHERE substr(run_id, 1, ?) = ? "
                    "ORDER BY created DESC, run_id DESC LIMIT ?",
                    (len(run_id), run_id, _LATEST_SHOWN + 1),
                ).fetchall()
            if len(rows) != 1:
                raise self._not_found(conn, run_id, [r["run_id"] for r in rows])
        return self._check_runner(_run_from_row(rows[0]))

    def list_runs(
        self, notebook: str | os.PathLike[str] | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The latest runs, newest first, of one notebook or of all in this folder."""
        where, args = "", ()
        if notebook is not None:
            where, args = "WHERE notebook = ?", (self._notebook_label(notebook),)
        with self._db() as conn:
            rows = conn.execute(
                f"SELECT * FROM runs {where} ORDER BY created DESC, run_id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [self._check_runner(_run_from_row(row)) for row in rows]

    def steps(self, run_id: str) -> list[StepRecord]:
        """The steps of a run (id or unique prefix), in the order the run was created with."""
        run = self.get_run(run_id)
        with self._db() as conn:
            rows = conn.execute(
                "SELECT * FROM steps WHERE run_id = ? ORDER BY rowid", (run.run_id,)
            ).fetchall()
        return [_step_from_row(row) for row in rows]

    def get_step(self, run_id: str, step: str) -> StepRecord:
        """One step of a run (id or unique prefix); StoreError naming the steps if unknown."""
        run = self.get_run(run_id)
        records = self.steps(run.run_id)
        for record in records:
            if record.step == step:
                return record
        names = ", ".join(r.step for r in records) or "none"
        raise StoreError(f"run {run.run_id} has no step {step!r}; its steps are: {names}")

    def step_records_with_key(self, cache_key: str) -> list[StepRecord]:
        """Every step record with this cache key, newest first (for the cache index)."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT steps.* FROM steps JOIN runs USING (run_id) WHERE cache_key = ? "
                "ORDER BY COALESCE(steps.ended, steps.started, runs.created) DESC, "
                "runs.created DESC",
                (cache_key,),
            ).fetchall()
        return [_step_from_row(row) for row in rows]

    # -- resuming -----------------------------------------------------------------------
    def resume_plan(
        self, run_id: str, pipeline: Pipeline | None = None
    ) -> tuple[dict[str, StepRecord], list[str]]:
        """(steps whose results can be reused, steps to run again) for `run --resume`.

        A step is reused when it succeeded (or was a cache hit) and every output file is
        still there with the recorded sha256; anything else runs again. Given the pipeline,
        a step downstream of one that runs again runs again too (its inputs may change),
        and the steps are the pipeline's, in its order.
        """
        run = self.get_run(run_id)
        if run.status == "running":
            raise RunStillRunning(
                f"run {run.run_id} is still running (runner pid {run.runner_pid} on "
                f"{run.host}); wait for it to end, or stop it, before resuming it."
            )
        records = self.steps(run.run_id)
        reusable = {
            r.step: r
            for r in records
            if r.status in REUSABLE_STEP_STATUSES and not self.artifact_problems(r)
        }
        if pipeline is None:
            return reusable, [r.step for r in records if r.step not in reusable]
        rerun: set[str] = set()
        order = pipeline.order()
        for name in order:
            if name not in reusable or pipeline.step(name).upstream & rerun:
                rerun.add(name)
        return {n: reusable[n] for n in order if n not in rerun}, [n for n in order if n in rerun]

    def artifact_problems(self, record: StepRecord) -> list[str]:
        """Why the step's outputs cannot be trusted, one line per output; empty if intact.

        Each file is hashed again: a size or date check would trust a file rewritten in
        place. A relative path is taken relative to the notebook's folder.
        """
        problems = []
        for name, saved in record.outputs.items():
            problem = self._artifact_problem(saved)
            if problem:
                problems.append(f"{name}: {problem}")
        return problems

    def _artifact_problem(self, saved: Any) -> str | None:
        if isinstance(saved, list):  # a fan-out step's output: one saved value per element
            return next(filter(None, map(self._artifact_problem, saved)), None)
        try:
            path, digest = Path(saved["path"]), str(saved["sha256"])
        except (KeyError, TypeError):
            return "its record has no path and sha256"
        if not path.is_absolute():
            path = self.root.parent / path
        if not path.is_file():
            return f"{path} is missing"
        size = saved.get("size")
        if size is not None and path.stat().st_size != size:
            return f"{path} changed since it was saved (size differs)"
        if file_sha256(path) != digest:
            return f"{path} changed since it was saved (sha256 differs)"
        return None

    # -- interrupted runs ---------------------------------------------------------------
    def _check_runner(self, run: RunRecord) -> RunRecord:
        """A 'running' run whose runner is gone is recorded, and returned, as interrupted."""
        if run.status != "running" or not _runner_gone(run):
            return run
        now = time.time()
        message = (
            f"the runner (pid {run.runner_pid} on {run.host}) stopped without recording an "
            "end: it was killed or crashed"
        )
        with self._write() as conn:
            # Conditional on 'running': never overwrite an end recorded meanwhile.
            cur = conn.execute(
                "UPDATE runs SET status = 'interrupted', ended = COALESCE(ended, ?), "
                "message = COALESCE(message, ?) WHERE run_id = ? AND status = 'running'",
                (now, message, run.run_id),
            )
            if cur.rowcount:
                conn.execute(
                    "UPDATE steps SET ended = CASE WHEN status = 'running' THEN ? ELSE ended "
                    "END, status = 'interrupted' "
                    "WHERE run_id = ? AND status IN ('waiting', 'running')",
                    (now, run.run_id),
                )
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run.run_id,)).fetchone()
        return _run_from_row(row)

    # -- plumbing -----------------------------------------------------------------------
    def _notebook_label(self, notebook: str | os.PathLike[str]) -> str:
        """A notebook in this store's folder is recorded by its path relative to it.

        So the label is the same whichever directory the command ran from, and survives
        moving the project. Anything else is recorded as given.
        """
        try:
            return Path(notebook).resolve().relative_to(self.root.parent.resolve()).as_posix()
        except (ValueError, OSError):
            return str(notebook)

    def _not_found(
        self, conn: sqlite3.Connection, run_id: str, matches: list[str] | None = None
    ) -> RunNotFound:
        if matches:
            more = ", ..." if len(matches) > _LATEST_SHOWN else ""
            shown = ", ".join(matches[:_LATEST_SHOWN]) + more
            return RunNotFound(
                f"run id {run_id!r} is ambiguous: it starts {shown}. Give more of the id."
            )
        latest = [
            r[0]
            for r in conn.execute(
                "SELECT run_id FROM runs ORDER BY created DESC, run_id DESC LIMIT ?",
                (_LATEST_SHOWN,),
            )
        ]
        if not latest:
            return RunNotFound(f"no run {run_id!r}: there are no runs yet in {self.root}.")
        return RunNotFound(
            f"no run {run_id!r} in {self.root}. The latest runs are: {', '.join(latest)} "
            "(`liminal-nb runs` lists them all)."
        )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.db_path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run index {self.db_path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if not self._schema_ready:
                self._create_schema(conn)
            yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"run index {self.db_path}: {exc}.{_disk_full_note(self.root)}"
                             ) from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction. IMMEDIATE takes the write lock up front, so two
        writers queue on busy_timeout instead of one failing when upgrading a read lock."""
        with self._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        _enable_wal(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the run index {self.db_path} was written by a newer liminal-jupyter "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}); upgrade "
                    "liminal-jupyter to read it."
                )
            for statement in _SCHEMA:
                conn.execute(statement)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")
        self._schema_ready = True


# --------------------------------------------------------------------------------------
# Helpers.


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON atomically (see liminal_jupyter.atomic); our records' own encoder."""
    atomic_write_json(path, data, default=_json_default)


_LOW_SPACE = 1 << 20  # bytes; below this a write failing is taken for a full disk


def _disk_full_note(folder: Path) -> str:
    """Why a write to the index failed, when the disk is full: SQLite says only 'disk I/O
    error' when it cannot grow its WAL files, which sends people looking for a broken disk."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    if free >= _LOW_SPACE:
        return ""
    return (f" The disk holding {folder} is full ({free} bytes free): free some space; "
            "what was recorded before stays as it was.")


def process_start_time(pid: int) -> int | None:
    """When the process started (clock ticks after boot, /proc/<pid>/stat field 22).

    Together with the pid it names one process: a pid reused by a later process has a
    different start time. None where /proc is not available or the process is gone.
    """
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def process_alive(pid: int, start_time: int | None = None) -> bool:
    """Whether the process `pid` (with that start time, if given) still runs."""
    if pid <= 0:
        return False
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        if state in ("Z", "X"):  # a zombie has finished; only its exit status remains
            return False
        return start_time is None or started == start_time
    if Path("/proc/self/stat").exists():
        return False  # /proc works here, and has no such process
    if os.name == "nt":
        return True  # os.kill would terminate it; we cannot tell, so assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        # Field 2, the command name in parentheses, may contain spaces and ')'.
        rest = text[text.rindex(")") + 2 :].split()
        return rest[0], int(rest[22 - 3])
    except (OSError, ValueError, IndexError):
        return None


def _runner_gone(run: RunRecord) -> bool:
    if run.runner_pid is None:
        return False
    if run.host and run.host != socket.gethostname():
        return False  # another machine's process (a shared folder): we cannot tell
    return not process_alive(run.runner_pid, run.runner_start_time)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL once per database file (the mode persists in the file).

    Two processes creating the store at the same moment can both try; the loser may get
    'database is locked' without the busy handler, so it retries for a while. Any other
    error (a full disk, a read-only folder) will not pass by waiting: it is raised at once,
    or `liminal-nb runs` on a full disk would sit silent for the whole busy timeout.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _is_lock_error(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (with any extended code): another connection holds
    the lock, which it gives back."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised by the sqlite3 module itself, not by SQLite
        return "locked" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if SQLite has not already (it does on some errors, e.g. a full disk)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _safe_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(
            f"{what} {name!r} cannot name a folder: use letters, digits, '_', '-' and '.'"
        )
    return name


def _check_status(status: str, allowed: tuple[str, ...], what: str) -> None:
    if status not in allowed:
        raise ValueError(f"{status!r} is not a {what} status; expected one of {', '.join(allowed)}")


def _assignments(
    values: dict[str, Any], columns: tuple[str, ...], what: str
) -> tuple[str, list[Any]]:
    """`col = ?, ...` and its arguments; keys are checked against the table's columns."""
    keys = ("run_id", "step")
    unknown = [k for k in values if k not in columns or k in keys]
    if unknown or not values:
        raise TypeError(
            f"cannot update {what} fields {', '.join(unknown) or '(none given)'}; "
            f"known fields: {', '.join(c for c in columns if c not in keys)}"
        )
    return ", ".join(f"{k} = ?" for k in values), [_encode(k, v) for k, v in values.items()]


def _insert(conn: sqlite3.Connection, table: str, values: dict[str, Any]) -> None:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",
        [_encode(k, v) for k, v in values.items()],
    )


def _exists(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None


def _encode(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS and value is not None:
        return json.dumps(value, sort_keys=True, default=_json_default)
    return value


def _json_default(value: Any) -> Any:
    """SavedValue and other dataclasses as dicts, paths as strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decoded(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for column in data.keys() & _JSON_COLUMNS:
        if data[column] is not None:
            data[column] = json.loads(data[column])
    return data


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(**_decoded(row))


def _step_from_row(row: sqlite3.Row) -> StepRecord:
    return StepRecord(**_decoded(row))
