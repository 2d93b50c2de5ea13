"""Long SIGKILL sweep (issue 20): `liminal-nb run` of a five-step notebook killed with SIGKILL
at a seeded random moment, then `liminal-nb run --resume RUN` until it completes, N times.

    .venv/bin/python stress/kill_resume.py --kills 30 --seed 1

Each trial runs in a fresh folder (tests/reliability/kill_sweep.py says what is checked:
integrity of .liminal/runs.db after the kill and at the end, no step recorded as succeeded
with an artifact failing its hash, outputs identical to an uninterrupted run, no process
left behind). Prints one line per kill, where the kills landed, the failures and the time.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.reliability.kill_sweep import kill_moments, reference, run_trial  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the trial folders")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="liminal-kill-resume-"))
    started = time.monotonic()
    expected, window = reference(base / "reference")
    print(f"uninterrupted run: {window:.1f} s; kills fall in (0.05, {window:.1f}) s", flush=True)
    phases: collections.Counter[str] = collections.Counter()
    failed = []
    resumes = 0
    for index, kill_at in enumerate(kill_moments(args.seed, args.kills, window)):
        folder = base / f"trial-{index:03d}"
        trial = run_trial(folder, kill_at, expected)
        phases[trial.phase] += 1
        resumes += trial.resumes
        verdict = "ok" if not trial.problems else "FAILED"
        print(f"kill {index + 1:3d} at {kill_at:6.3f} s, {trial.phase}: {trial.resumes} "
              f"resume(s), {trial.seconds:.1f} s, {verdict}", flush=True)
        for problem in trial.problems:
            print(f"    {problem}", flush=True)
        if trial.problems:
            failed.append(index)
        elif not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nkills={args.kills} seed={args.seed} resumes={resumes} failed={len(failed)} "
          f"total={time.monotonic() - started:.0f}s")
    print("where the kills landed: " + ", ".join(f"{p}: {n}" for p, n in sorted(phases.items())))
    if failed:
        print(f"failed trials kept under {base}: {failed}")
    elif not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
