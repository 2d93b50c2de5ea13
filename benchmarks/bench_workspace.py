"""What the workspace costs: compiling with a 50 MiB workspace next to compiling without
one, and what each step pays to fetch and unpack it.

The same notebook (tests/engines/workspace_notebook.py: data/train.csv read through a
folder variable, config.yaml, helpers.py, report.csv handed between steps) is compiled to
KFP YAML with `liminal-nb compile` as a subprocess (interpreter start included), in three
folders that differ only in what the workspace holds: nothing (`liminal.exclude: ["*"]`);
the three small files (embedded in the YAML); those plus a 50 MiB file in data/ (random
bytes, so gzip cannot shrink it; `liminal.files: ["data/"]` puts it in the workspace,
stored at --workspace-uri). Rows interleave, after one untimed warm-up each.

Per step: `step_folder` (step/workdir.py), as a KFP component or an Airflow task runs it:
read the archive (from a folder given as --workspace-uri, a path here; an object store
adds its transfer time), check its sha256, extract into a fresh temporary folder, note
the files, then collect and remove.

  python benchmarks/bench_workspace.py [--repeat 5] [--size-mib 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
LIMINAL_NB = Path(sys.executable).with_name("liminal-nb")


def _project(root: Path, big_mib: int, none: bool = False) -> Path:
    from tests.engines.workspace_notebook import write_workspace_notebook

    settings = {"exclude": ["*"]} if none else {"files": ["data/"]} if big_mib else None
    notebook = write_workspace_notebook(root, settings)
    if big_mib:
        with open(root / "data" / "big.bin", "wb") as f:
            for _ in range(big_mib):
                f.write(os.urandom(1 << 20))
    return notebook


def _compile(notebook: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(LIMINAL_NB), "compile", str(notebook), "-o", str(out / "p.yaml"),
                    "--workspace-uri", str(out / "store")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _unpack(reference: dict, out: Path) -> float:
    from liminal_jupyter.step.workdir import step_folder

    started = time.perf_counter()
    with step_folder(reference, {}, out):
        pass
    return time.perf_counter() - started


def _reference(notebook: Path, store: Path) -> dict:
    from liminal_jupyter.engines.workspace import packed_workspace
    from liminal_jupyter.notebook.parse import parse_notebook

    reference, _ = packed_workspace(parse_notebook(notebook), uri=str(store))
    return reference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-workspace-") as tmp:
        root = Path(tmp)
        small, big = _project(root / "small", 0), _project(root / "big", args.size_mib)
        none = _project(root / "none", 0, none=True)
        projects = (("none", none), ("small", small), ("big", big))
        rows: dict[str, list[float]] = {name: [] for name, _ in projects}
        for name, notebook in projects:  # warm-up
            _compile(notebook, root / f"warm-{name}")
        for i in range(args.repeat):
            for name, notebook in projects:
                rows[name].append(_compile(notebook, root / f"{name}-{i}"))
        unpack: dict[str, list[float]] = {"small": [], "big": []}
        references = {name: _reference(nb, root / f"store-{name}")
                      for name, nb in (("small", small), ("big", big))}
        for i in range(args.repeat):
            for name, reference in references.items():
                unpack[name].append(_unpack(reference, root / f"out-{name}-{i}"))
        sizes = {name: r["size"] for name, r in references.items()}
    print(f"liminal-nb compile (KFP YAML), median of {args.repeat}, interpreter start included")
    print(f"  {'workspace':<34} {'compile s':>10} {'archive':>12} {'per-step unpack s':>18}")
    labels = {"none": "none (liminal.exclude: [\"*\"])",
              "small": "3 small files (embedded in YAML)",
              "big": f"+ {args.size_mib} MiB file (stored, fetched)"}
    print(f"  {labels['none']:<34} {statistics.median(rows['none']):>10.2f} "
          f"{'-':>12} {'-':>18}")
    for name in ("small", "big"):
        print(f"  {labels[name]:<34} {statistics.median(rows[name]):>10.2f} "
              f"{sizes[name] / (1 << 20):>10.2f}Mi {statistics.median(unpack[name]):>18.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
