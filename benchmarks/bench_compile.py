"""How long `liminal-nb compile` takes, next to Kale's compiler on the same notebook.

The claim under test: compiling a notebook to KFP v2 YAML with `liminal-nb compile` is at
least 4 times faster than Kale 2.3 (`kale --nb NOTEBOOK`) on the same notebook.

Both are timed as subprocesses (interpreter start included, as a user in a terminal waits
for it), interleaved so machine noise hits both rows alike, after one untimed warm-up each
(OS file cache, .pyc files). Each run gets a fresh copy of the notebook in a temporary
folder, so neither reuses what the other wrote.

  (a) liminal-nb compile   `liminal-nb compile NOTEBOOK -o out.yaml`: parse, check, generate
                           the DSL module and run the kfp SDK compiler.
  (b) kale --nb            Kale 2.3 compiles the same notebook to a DSL script and the
                           kfp SDK compiles that to .kale/<name>.pipeline.yaml. Kale 2.3
                           renamed the `block:` tag to `step:`, so its copy has `block:`
                           tags rewritten to `step:` (nothing else changes). Kale must be
                           installed in its own virtualenv (it pins its own kfp), e.g.
                             python3 -m venv /tmp/kale-venv
                             /tmp/kale-venv/bin/pip install kubeflow-kale
                           and given with --kale /tmp/kale-venv/bin/kale. Without it, the
                           row is skipped with a message.

Exits non-zero if a compile fails or no YAML is written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "tests" / "notebooks" / "kale_titanic_style.ipynb"
LIMINAL_NB = Path(sys.executable).with_name("liminal-nb")
GOAL = 4.0


def kale_copy(src: Path, dest: Path) -> Path:
    """The notebook with Kale 1.x `block:` tags spelled as Kale 2.3's `step:`."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags")
        if tags:
            cell["metadata"]["tags"] = ["step:" + t[6:] if t.startswith("block:") else t
                                        for t in tags]
    dest.write_text(json.dumps(nb), encoding="utf-8")
    return dest


def time_liminal(notebook: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        nb = Path(tmp) / notebook.name
        shutil.copy(notebook, nb)
        out = Path(tmp) / "out.yaml"
        start = time.perf_counter()
        done = subprocess.run([str(LIMINAL_NB), "compile", str(nb), "-o", str(out)],
                              capture_output=True, text=True, cwd=tmp)
        took = time.perf_counter() - start
        if done.returncode != 0 or not out.is_file():
            sys.exit(f"liminal-nb compile failed ({done.returncode}):\n{done.stderr}")
        return took


def time_kale(kale: Path, notebook: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-kale-") as tmp:
        nb = kale_copy(notebook, Path(tmp) / notebook.name)
        start = time.perf_counter()
        done = subprocess.run([str(kale), "--nb", str(nb)], capture_output=True, text=True,
                              cwd=tmp)
        took = time.perf_counter() - start
        written = list(Path(tmp).glob(".kale/*.yaml"))
        if done.returncode != 0 or not written:
            sys.exit(f"kale failed ({done.returncode}):\n{done.stdout[-3000:]}"
                     f"{done.stderr[-3000:]}")
        return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--kale", type=Path, help="path of Kale 2.3's `kale` command")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs each (default 7)")
    args = parser.parse_args()

    kale = args.kale
    if kale is not None and not kale.is_file():
        print(f"kale row skipped: {kale} does not exist (install Kale in its own venv, see "
              "the module docstring)")
        kale = None
    elif kale is None:
        print("kale row skipped: no --kale given (install Kale in its own venv, see the "
              "module docstring)")
    if kale is not None:
        version = subprocess.run([str(kale.with_name("pip")), "show", "kubeflow-kale"],
                                 capture_output=True, text=True).stdout
        found = [ln.split(":", 1)[1].strip() for ln in version.splitlines()
                 if ln.startswith("Version:")]
        print(f"kale: {kale} (kubeflow-kale {found[0] if found else '?'})")

    time_liminal(args.notebook)  # warm-up
    if kale:
        time_kale(kale, args.notebook)
    ours, theirs = [], []
    for _ in range(args.repeat):
        ours.append(time_liminal(args.notebook))
        if kale:
            theirs.append(time_kale(kale, args.notebook))

    print(f"\n{args.notebook.name}, {args.repeat} runs each, seconds (wall, subprocess)\n")
    print(f"  {'':<22} {'min':>7} {'median':>7} {'max':>7}")
    rows = [("liminal-nb compile", ours)] + ([("kale --nb", theirs)] if kale else [])
    for label, times in rows:
        print(f"  {label:<22} {min(times):>6.2f}s {statistics.median(times):>6.2f}s "
              f"{max(times):>6.2f}s")
    if kale:
        ratio = statistics.median(theirs) / statistics.median(ours)
        verdict = "met" if ratio >= GOAL else "NOT met"
        print(f"\nkale / liminal (medians): {ratio:.2f}x faster (goal: at least {GOAL:.0f}x) "
              f"-> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
