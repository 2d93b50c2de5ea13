"""The compiled YAML run by KFP's own local runner in a child process (kfp.local is
process-wide state and prints task logs to stdout), which prints the pipeline's outputs
(the metrics) as JSON: `use_venv=False` runs the steps in this interpreter,
`use_venv=True` in a fresh virtual environment each (a stock image's pod)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

RUN_SCRIPT = textwrap.dedent("""\
    import json, sys
    from kfp import components, local
    local.init(runner=local.SubprocessRunner(use_venv=sys.argv[4] == "venv"),
               pipeline_root=sys.argv[2])
    pipeline = components.load_component_from_file(sys.argv[1])
    task = pipeline(**json.loads(sys.argv[3]))
    metrics = {name: dict(artifact.metadata) for name, artifact in task.outputs.items()}
    print("LIMINAL-RESULT " + json.dumps(metrics))
""")


def run_kfp_local(yaml_path: Path, root: Path, arguments: dict, *, use_venv: bool = False,
                  timeout: float = 300) -> dict:
    script = root.parent / "run_kfp_local.py"
    script.write_text(RUN_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(yaml_path), str(root),
                           json.dumps(arguments), "venv" if use_venv else "here"],
                          capture_output=True, text=True, timeout=timeout, cwd=root.parent)
    lines = [line for line in done.stdout.splitlines() if line.startswith("LIMINAL-RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(lines[-1].split(" ", 1)[1])
