"""Which notebook a run is running, told to everything it starts, so a step cannot run it again.

A notebook that calls the Python API on itself (`Pipeline.from_notebook().run()`, or with
its own path) would, once it is a pipeline, start a new run of itself from inside one of
its steps, and that run would do the same: runs without end. The runner marks its
environment with the notebook it runs; step kernels inherit the mark, and the API refuses
to start a run of that same notebook from under it. Runs of other notebooks stay allowed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUN_NOTEBOOK_ENV = "LIMINAL_RUN_NOTEBOOK"
"""Set by the runner to the absolute path of the notebook it runs, for its step kernels."""


@contextmanager
def marked_as_running(notebook: str | os.PathLike[str]) -> Iterator[None]:
    """Within the block, processes started from here know they run inside a run of `notebook`.

    The previous value is restored afterwards, so an in-process caller (a test calling the
    CLI's `main`) is left as it was.
    """
    previous = os.environ.get(RUN_NOTEBOOK_ENV)
    os.environ[RUN_NOTEBOOK_ENV] = str(Path(notebook).resolve())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RUN_NOTEBOOK_ENV, None)
        else:
            os.environ[RUN_NOTEBOOK_ENV] = previous


def inside_run_of(notebook: str | os.PathLike[str]) -> bool:
    """Whether this process was started, directly or not, by a run of `notebook`."""
    marked = os.environ.get(RUN_NOTEBOOK_ENV)
    return bool(marked) and Path(marked) == Path(notebook).resolve()
