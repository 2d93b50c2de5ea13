"""Remote runs followed while someone watches them: a run submitted to a host (KFP, an
Airflow deployment: any engine that can `submit`, for a run recorded with a host URL and the
host's run id) is asked for its state when the panel asks for it, so its
step states colour the DAG as a local run's do, and the runs ledger keeps what was seen
(`liminal-nb runs` agrees). Nothing polls a run nobody looks at.

An engine is asked at most once every REFRESH_S per run, however many panels poll, and a
host that cannot be asked leaves the ledger's last state with a one-line note: the panel
says it quietly, never as an error dialog.
"""

from __future__ import annotations

import threading
import time
from typing import Any

REFRESH_S = 2.0
MAX_PER_LIST = 5  # unfinished remote runs refreshed per runs-list request (the newest)

_lock = threading.Lock()
_asked: dict[tuple[str, str], float] = {}
_notes: dict[tuple[str, str], str] = {}
# (run store, run, step) -> (when asked, the log's tail, final: the step had ended)
_logs: dict[tuple[str, str, str], tuple[float, str, bool]] = {}


def submitted(run: Any) -> bool:
    """Whether the run was handed to a host by its engine's submit (finished or not)."""
    from liminal_jupyter.engines.registry import engines

    engine = engines().get(run.backend)
    return bool(engine is not None and engine.capabilities.submit and run.remote_id
                and "://" in (run.host or ""))


def is_remote(run: Any) -> bool:
    """A submitted run that has not ended: its host is asked for its state."""
    return submitted(run) and not run.finished


def refresh(store: Any, run: Any) -> tuple[Any, str | None]:
    """(the run's record, after asking its engine when due; a note when the engine could
    not be asked). A finished or local run is returned as it is."""
    if not is_remote(run):
        return run, None
    key = (str(store.db_path), run.run_id)
    with _lock:
        due = time.monotonic() - _asked.get(key, float("-inf")) >= REFRESH_S
        if due:
            _asked[key] = time.monotonic()
    if due:
        from liminal_jupyter.engines.registry import engines

        try:
            engines()[run.backend].status(store, run.run_id)
            note = None
        except Exception as exc:  # an unreachable host is a state of the world, not a bug
            note = (f"{run.backend} host {run.host} could not be asked for this run's "
                    f"state: {_one_line(exc)}")
        with _lock:
            if note is None:
                _notes.pop(key, None)
            else:
                _notes[key] = note
    with _lock:
        note = _notes.get(key)
    return store.get_run(run.run_id), note


def log_tails(store: Any, run: Any, steps: list[dict[str, Any]], lines: int) -> str | None:
    """Fill each started step's empty `log_tail` of a submitted run from its engine's
    `logs` (the host's task log), asked at most once every REFRESH_S per step; a step that
    ended keeps the last log read. Returns a note when the host could not be asked."""
    from liminal_jupyter.engines.registry import engines

    engine = engines().get(run.backend)
    if engine is None or not engine.capabilities.logs or not submitted(run):
        return None
    note = None
    for step in steps:
        if step["log_tail"] or step["status"] in ("waiting", "skipped"):
            continue
        key = (str(store.db_path), run.run_id, step["step"])
        ended = step["status"] not in ("running",)
        with _lock:
            seen = _logs.get(key)
            due = seen is None or (not seen[2] and
                                   time.monotonic() - seen[0] >= REFRESH_S)
            if due:
                _logs[key] = (time.monotonic(), seen[1] if seen else "", False)
        if due:
            try:
                text = engine.logs(store, run.run_id, step["step"]) or ""  # type: ignore[attr-defined]
            except Exception as exc:  # the host is gone: the last log read stays
                note = (f"{run.backend} host {run.host} could not be asked for step logs: "
                        f"{_one_line(exc)}")
                text = seen[1] if seen else ""
                ended = False
            with _lock:
                _logs[key] = (time.monotonic(), _tail(text, lines), ended and bool(text))
        with _lock:
            step["log_tail"] = _logs[key][1]
    return note


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def engine_url(run: Any) -> str | None:
    """The run's page in its engine's own UI, when the engine can say."""
    from liminal_jupyter.engines.registry import engines

    engine = engines().get(run.backend)
    url = getattr(engine, "run_url", None)
    if url is None or not (run.host and run.remote_id):
        return None
    return url(run.host, run.remote_id)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
