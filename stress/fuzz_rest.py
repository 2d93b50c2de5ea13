"""Long request-fuzzing run of the REST API (issue 20): many generated requests to every
route against one real Jupyter server with the extension, every distinct failure collected
(not only the first), with the shortest request seen for it.

    .venv/bin/python stress/fuzz_rest.py --requests 5000 --seed 1

Properties (tests/server/rest_strategies.py, check_reply): never a 5xx; an error is a 4xx
with a JSON object carrying a "message"; no traceback in any reply. Requests to routes that
can start work are invalid by construction; at the end the script checks that no run was
started and prints the count of requests per route and the replies' statuses.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server.live_server import live_server  # noqa: E402
from tests.server.rest_strategies import build_root, call_to, check_reply  # noqa: E402
from tests.server.test_rest_fuzz import ROUTES, finish_the_run, start_a_run  # noqa: E402


def key_of(message: str) -> str:
    """A failure's kind: its first line with the request and numbers taken out."""
    first = message.split(" -> ", 1)[-1].splitlines()[0] if message else ""
    return re.sub(r"\d+", "N", first)[:160]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="liminal-rest-fuzz-"))
    root = base / "root"
    root.mkdir()
    build_root(root, base / "outside")
    runner = start_a_run(root)
    failures: dict[str, tuple[str, str]] = {}
    per_route: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[int] = collections.Counter()
    with live_server(base, root) as server:
        run_id = finish_the_run(root, runner)
        started = time.perf_counter()

        @seed(args.seed)
        @settings(max_examples=args.requests, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.data())
        def fuzz(data: st.DataObject) -> None:
            route = data.draw(st.sampled_from(ROUTES))
            call = data.draw(call_to(route, run_id))
            per_route[route] += 1
            try:
                reply = server.request(call.method, call.target, call.body)
                statuses[reply.status] += 1
                check_reply(call, reply.status, reply.headers, reply.body)
            except Exception as exc:  # collected: the point is to see them all
                text = f"{type(exc).__name__}: {exc}"
                key = f"{route}: {key_of(str(exc)) or type(exc).__name__}"
                if key not in failures or len(repr(call)) < len(failures[key][0]):
                    failures[key] = (repr(call), text[:1500])

        fuzz()
        elapsed = time.perf_counter() - started
    from liminal_jupyter.runs.launch import run_store_for

    store = run_store_for(root / "nb.ipynb")
    folders = sorted(p.name for p in store.run_dir(run_id).parent.iterdir())
    print(f"{sum(per_route.values())} requests in {elapsed:.0f} s, seed {args.seed}")
    print("per route: " + ", ".join(f"{r} {n}" for r, n in sorted(per_route.items())))
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"runs in the store afterwards: {folders} (the fixture's own: {run_id})")
    print(f"{len(failures)} distinct failures")
    for key, (call, text) in sorted(failures.items()):
        print(f"\n== {key}\n{call}\n{text}")
    return 1 if failures or folders != [run_id] else 0


if __name__ == "__main__":
    sys.exit(main())
