"""Stress: close a KernelPool while its kernels are warming, starting or recycling.

The race behind the KernelPool.close hang: a pool whose kernels are still warming (a run
whose steps all came from the cache, a cancelled run) is closed at a random moment.
Prints, for N rounds, how long each close took, how many shutdowns were still blocked in
ZeroMQ afterwards and how many kernel processes were left behind.

    .venv/bin/python stress/kernel_close_race.py --rounds 50 --seed 1
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from liminal_jupyter.engines.local.kernels import KernelPool


def kernel_children() -> set[int]:
    """Pids of ipykernel processes whose parent is this process."""
    found = set()
    me = str(Path("/proc/self").resolve().name)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = stat[stat.rindex(")") + 2:].split()[1]
        if ppid == me and b"ipykernel" in cmd:
            found.add(int(entry.name))
    return found


def blocked_shutdowns() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t.name.startswith("liminal-kernel") and t.is_alive()]


CRASHED: list[str] = []


def count_crash(args: threading.ExceptHookArgs) -> None:
    """A pool thread that died of an exception left its kernel unaccounted for."""
    CRASHED.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}")


def main() -> int:
    threading.excepthook = count_crash
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=2.5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    slowest = 0.0
    started = time.monotonic()
    stuck_rounds = 0
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            pool = KernelPool("python3", Path(folder), ["import json"], needed=3, limit=2)
            # sometimes take a kernel and give it back for recycling, as a step does
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0, args.max_delay))
                kernel = pool.acquire()
                if kernel is not None:
                    pool.release(kernel, reusable=True)
            time.sleep(rng.uniform(0, args.max_delay))
            t0 = time.monotonic()
            pool.close()
            took = time.monotonic() - t0
            slowest = max(slowest, took)
            time.sleep(0.3)
            stuck = [t for t in blocked_shutdowns() if t.name == "liminal-kernel-shutdown"]
            if stuck:
                stuck_rounds += 1
                frames = sys._current_frames()
                print(f"round {round_}: {len(stuck)} shutdown thread(s) blocked", flush=True)
                for t in stuck[:1]:
                    print("".join(traceback.format_stack(frames[t.ident])), flush=True)
            print(f"round {round_}: close {took:.2f} s", flush=True)
    # give background threads a moment, then count what is left
    time.sleep(2)
    left = kernel_children()
    threads = blocked_shutdowns()
    print(f"rounds={args.rounds} seed={args.seed} total={time.monotonic() - started:.0f}s "
          f"slowest_close={slowest:.2f}s rounds_with_blocked_shutdown={stuck_rounds} "
          f"threads_left={len(threads)} kernels_left={len(left)} crashed_threads={len(CRASHED)}")
    for crash in sorted(set(CRASHED)):
        print(f"  crashed: {crash} x{CRASHED.count(crash)}")
    return 1 if stuck_rounds or left or CRASHED or threads else 0


if __name__ == "__main__":
    sys.exit(main())
