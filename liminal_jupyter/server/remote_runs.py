"""Remote runs followed while someone watches them: a run submitted to KFP (or any engine
whose capabilities say `remote`) is asked for its state when the panel asks for it, so its
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


def is_remote(run: Any) -> bool:
    from liminal_jupyter.engines.registry import engines

    engine = engines().get(run.backend)
    return bool(engine is not None and engine.capabilities.remote and run.remote_id
                and not run.finished)


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
