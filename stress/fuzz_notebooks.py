"""Long fuzzing run of the parser and the analysis (issue 20): many generated notebooks,
every distinct failure collected (not only the first), with its smallest example seen.

    .venv/bin/python stress/fuzz_notebooks.py --examples 5000 --seed 1

Properties (tests/notebook_strategies.py, check_notebook): a pipeline or a NotebookError,
never another exception; the same IR twice; `liminal-nb inspect` (plain, --json, --graph)
exits 0 or 2, with a diagnostic when 2. Also prints the time per kilobyte of the slowest
examples, to see that the time grows with the size of the notebook and no faster.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from notebook_strategies import check_notebook, notebook_bytes  # noqa: E402


def where(exc: BaseException) -> str:
    """The innermost frame of our package (or the last one), to group failures."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "liminal_jupyter" in f.filename] or frames
    frame = ours[-1]
    return f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno} ({frame.name})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="liminal-fuzz-"))
    failures: dict[str, tuple[bytes, str]] = {}
    timings: list[tuple[float, int, bytes]] = []
    count = 0

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(notebook_bytes())
    def fuzz(data: bytes) -> None:
        nonlocal count
        count += 1
        started = time.perf_counter()
        try:
            check_notebook(data, folder / "fuzz.ipynb")
        except Exception as exc:  # collected: the point is to see them all
            key = where(exc)
            if key not in failures or len(data) < len(failures[key][0]):
                failures[key] = (data, "".join(traceback.format_exception(exc)[-6:]))
        timings.append((time.perf_counter() - started, len(data), data))

    started = time.monotonic()
    fuzz()
    took = time.monotonic() - started
    slowest = sorted(timings, reverse=True)[:5]
    print(f"examples={count} seed={args.seed} seconds={took:.0f} "
          f"distinct_failures={len(failures)}")
    print("slowest examples (seconds, bytes, ms per KB): " + "; ".join(
        f"{t:.2f}s {n}B {1000 * t / max(1, n / 1024):.0f}" for t, n, _ in slowest))
    for number, (_, _, data) in enumerate(slowest[:3]):
        (folder / f"slowest-{number}.ipynb").write_bytes(data)
    print(f"the three slowest are in {folder}/slowest-*.ipynb")
    for key, (data, text) in sorted(failures.items()):
        print(f"\n== {key}\n   smallest example ({len(data)} bytes): {data[:300]!r}\n{text}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
