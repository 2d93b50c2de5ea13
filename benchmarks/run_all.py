"""Every benchmark of this folder, one after the other, in one sitting: what
benchmarks/README.md's "Current figures" section is copied from.

Figures taken on different days (or with helpers loading the machine) do not compare;
this runs them back to back and writes one log with the machine's state between runs
(load average, free memory), the commit measured and each script's whole output.

    .venv/bin/python benchmarks/run_all.py [--out FILE] [--kale PATH] [--only NAME ...]

--kale: Kale 2.3's `kale` command for bench_compile.py's comparison row (see there).
Scripts that need what is not here (an Airflow deployment needs PostgreSQL's initdb)
report that themselves. Exits non-zero if any script failed; the others still ran.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def scripts() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meminfo = Path("/proc/meminfo")
    free = ""
    if meminfo.is_file():
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines())
        free = f", available memory {int(fields['MemAvailable'].split()[0]) // 1024} MiB"
    return f"load average {load}{free}, {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the log (default: benchmarks/results-DATE.txt)")
    parser.add_argument("--kale", type=Path, help="Kale 2.3's `kale`, for bench_compile.py")
    parser.add_argument("--only", nargs="*", default=[], help="script names to run (stems)")
    args = parser.parse_args()
    out = args.out or HERE / f"results-{time.strftime('%Y-%m-%d')}.txt"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=REPO).stdout.strip()
    failed = []
    with open(out, "w", encoding="utf-8") as log:
        def say(text: str) -> None:
            print(text, flush=True)
            log.write(text + "\n")
            log.flush()

        say(f"# benchmarks at {commit}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
        for script in scripts():
            if args.only and script.stem not in args.only:
                continue
            command = [sys.executable, str(script)]
            if script.stem == "bench_compile" and args.kale:
                command += ["--kale", str(args.kale)]
            say(f"\n## {script.name} ({machine()})\n$ {' '.join(command[1:])}")
            start = time.perf_counter()
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            say(done.stdout.rstrip())
            if done.returncode != 0:
                failed.append(script.name)
                say(f"FAILED (exit {done.returncode}):\n{done.stderr[-3000:]}")
            say(f"({time.perf_counter() - start:.0f} s)")
        say(f"\n# done ({machine()}); failed: {', '.join(failed) or 'none'}")
    print(f"log: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
