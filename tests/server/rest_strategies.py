"""Hypothesis strategies for requests to the REST API (docs/rest-api.md), and the check
every reply must pass: never a 5xx, an error is a 4xx whose JSON body carries a message,
and no Python traceback in any body.

Shared by the quick, fixed-seed fuzz test (tests/server/test_rest_fuzz.py) and the long run
(stress/fuzz_rest.py). A drawn example is a `Call`: method, target (path and query, sent
exactly as drawn) and body bytes.

Routes that can start work (a run, a KFP submission, a model server, a monitoring job)
are fuzzed with requests that are invalid by construction: at least one field is wrong in
a way the server checks before it starts anything (a wrong type, an unknown parameter, a
path that is not a readable notebook, ...), so no request of the fuzzer starts a run or a
child process. Every other route gets anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from tests.conftest import code, notebook_json
from tests.server.live_server import DROPPED, over_head_limit

ABSENT = object()  # a field left out of the body

# -- the server's root dir --------------------------------------------------------------
NOTEBOOK_CELLS = [code("n = 2  # int", "parameters"), code("total = n * 2", "step:double")]
NOTEBOOKS = ("nb.ipynb", "sub/deeper.ipynb")  # readable, valid notebooks in the root
STEP = "double"


def build_root(root: Path, outside: Path) -> None:
    """The files the fuzzer's paths aim at: notebooks, a hidden one, files of other kinds,
    a folder named like a notebook, a broken notebook, a symlink out of the root, a drift
    report."""
    text = json.dumps(notebook_json(NOTEBOOK_CELLS))
    for name in NOTEBOOKS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.ipynb").write_text(text)
    (root / "notes.txt").write_text("not a notebook\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    (root / "broken.ipynb").write_text("{not json")
    (root / "folder.ipynb").mkdir()
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "outside.ipynb").write_text(text)
    (root / "link-out.ipynb").symlink_to(outside / "outside.ipynb")
    reports = root / ".liminal" / "reports"
    reports.mkdir(parents=True)
    (reports / "drift-model-1.html").write_text("<p>report</p>")


# -- values ------------------------------------------------------------------------------
# Long values are built by `long_text` (a map), so a failing example's repr stays short.
ODD_TEXT = ["", " ", "\x00", "nb.ipynb\x00", "\ud800", "名前.ipynb", "%", "%00", "%2e%2e",
            "\n", "null", "{}", "[]", "true", "1e309", "-1", "0", "$(id)",
            "'; DROP TABLE runs; --", "<script>alert(1)</script>", "%s%s%n", "\\",
            "C:\\x.ipynb"]
BAD_PATHS = ["../nb.ipynb", "../../etc/passwd", "/etc/passwd", "/nb.ipynb", "C:/x.ipynb",
             "sub/../nb.ipynb", "sub/../../x.ipynb", "notes.txt", "data.csv", "broken.ipynb",
             "folder.ipynb", "folder.ipynb/", "link-out.ipynb", ".hidden/secret.ipynb",
             "missing.ipynb", "sub", "sub/", ".", "./", "nb.ipynb/", "nb.ipynb/x.ipynb",
             " nb.ipynb", "nb.ipynb ", "nb.IPYNB", "\x00.ipynb", "\ud800.ipynb",
             "~/nb.ipynb", "~root/x.ipynb", "$HOME/x.ipynb", "//nb.ipynb", "..", "...ipynb",
             "nb.ipynb\n"]
LONG = {"a": "a", "a.ipynb": "a", "emoji": "😀", "dirs": "d/", "name/": "x"}


class Long(str):
    """A long string whose repr says how it was made."""

    def __new__(cls, unit: str, count: int, suffix: str = "") -> Long:
        made = super().__new__(cls, unit * count + suffix)
        made.made = f"{unit!r}*{count}+{suffix!r}"
        return made

    def __repr__(self) -> str:
        return f"Long({self.made})"


def long_text(sizes: tuple[int, ...] = (255, 256, 1025, 4096, 10_000, 100_000)
              ) -> st.SearchStrategy[str]:
    """Huge strings: 10,000-character names, long paths, deep folders, 4-byte characters."""
    return st.builds(Long, st.sampled_from(["a", "😀", "d/", "x", "名"]),
                     st.sampled_from(sizes),
                     st.sampled_from(["", ".ipynb", "/nb.ipynb", ".csv"]))


def texts(in_url: bool = False) -> st.SearchStrategy[str]:
    """Odd, random and huge strings (in a URL, none that makes the request's head longer
    than the 64 KiB tornado reads, but for a few)."""
    sizes = (255, 256, 1025, 4096) if in_url else (255, 256, 1025, 4096, 10_000, 100_000)
    return st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=40), long_text(sizes),
                     st.text(min_size=200, max_size=2000))


def json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """Any JSON value: wrong types, huge numbers, odd strings, nested junk."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                        st.sampled_from([2**64, -(2**63), 10**400, 0, -1]),
                        st.floats(allow_nan=False, allow_infinity=False), texts())
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(texts(), inner, max_size=4), max_leaves=12)


class Deep:
    """A value nested `levels` deep ([{"a": [...]}]), written out as JSON text by `encode`
    (json.dumps would hit Python's recursion limit)."""

    def __init__(self, levels: int) -> None:
        self.levels = levels

    def text(self) -> str:
        opened = "".join("[" if i % 2 else '{"a":' for i in range(self.levels))
        closed = "".join("]" if i % 2 else "}" for i in reversed(range(self.levels)))
        return opened + "1" + closed

    def __repr__(self) -> str:
        return f"Deep({self.levels})"


def deep_nesting() -> st.SearchStrategy[Deep]:
    return st.builds(Deep, st.sampled_from([50, 500, 990, 1_000, 5_000, 100_000]))


def junk() -> st.SearchStrategy[Any]:
    return json_values() | deep_nesting()


def not_str(strategy: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    return (junk() if strategy is None else strategy).filter(lambda v: not isinstance(v, str))


def not_str_or_null() -> st.SearchStrategy[Any]:
    return junk().filter(lambda v: v is not None and not isinstance(v, str))


def not_bool() -> st.SearchStrategy[Any]:
    return junk().filter(lambda v: v is not None and not isinstance(v, bool))


def notebook_paths() -> st.SearchStrategy[str]:
    return st.sampled_from(NOTEBOOKS)


def is_notebook(path: Any) -> bool:
    """Whether `path` names one of the readable notebooks (as the server would read it)."""
    if not isinstance(path, str):
        return False
    parts = tuple(p for p in PurePosixPath(path).parts if p not in ("", "."))
    return not path.startswith("/") and "/".join(parts) in NOTEBOOKS


def bad_paths(in_url: bool = False) -> st.SearchStrategy[Any]:
    """A `path` that is not a readable notebook: the server refuses it before anything."""
    joined = st.builds(lambda parts: "/".join(parts),
                       st.lists(st.sampled_from(["..", ".", "", "sub", "nb.ipynb", "名前",
                                                 "x" * 255, ".hidden", "%2e%2e"]),
                                min_size=1, max_size=6))
    others = st.sampled_from([1, None, [], {}, True, [1]]) if in_url else not_str()
    return st.one_of(st.sampled_from(BAD_PATHS), texts(in_url), joined, others
                     ).filter(lambda p: not is_notebook(p))


# -- requests ------------------------------------------------------------------------------
@dataclass
class Call:
    method: str
    target: str
    body: bytes | None = None

    def __repr__(self) -> str:  # Hypothesis prints the failing example: keep it readable
        body = self.body if self.body is None or len(self.body) < 400 else (
            self.body[:400] + b"...(%d bytes)" % len(self.body))
        target = self.target if len(self.target) < 400 else (
            self.target[:400] + f"...({len(self.target)} chars)")
        return f"Call({self.method} {target} body={body!r})"


def encode(value: Any) -> bytes:
    """JSON bytes of `value` (lone surrogates become \\ud800 escapes, as JSON allows; a
    `Deep` value is written out in full)."""
    deep: list[Deep] = []

    def mark(item: Any) -> Any:
        if isinstance(item, Deep):
            deep.append(item)
            return f"@@DEEP{len(deep) - 1}@@"
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        return item

    text = json.dumps(mark(value))
    for number, item in enumerate(deep):
        text = text.replace(f'"@@DEEP{number}@@"', item.text(), 1)
    return text.encode("ascii")


@st.composite
def bodies(draw: st.DrawFn, fields: dict[str, tuple], must_be_bad: bool) -> bytes:
    """A JSON object body with `fields` (name -> (good strategy, bad strategy, required)),
    some fields bad; at least one when `must_be_bad`. Sometimes extra unknown fields, and
    sometimes a body that is not a JSON object at all."""
    kind = draw(st.sampled_from(["fields"] * 8 + ["raw", "not-object"]))
    if kind == "raw":
        return draw(st.one_of(st.binary(max_size=200), deep_nesting().map(encode),
                              st.sampled_from(
            [b"", b"{", b"{not json", b"\xff\xfe", b'{"path": "nb.ipynb"', b"\x00",
             b'{"path": "\xff"}', b'{"path": "\\ud800.ipynb"}',
             b'{"path": "nb.ipynb", "path": 1}', b"NaN", b'{"jobs": NaN}',
             b'{"jobs": Infinity}'])))
    if kind == "not-object":
        return encode(draw(junk().filter(lambda v: not isinstance(v, dict))))
    names = list(fields)
    forced = draw(st.sampled_from(names)) if must_be_bad else None
    body: dict[str, Any] = {}
    for name in names:
        good, bad, required = fields[name]
        wrong = name == forced or draw(st.integers(0, 4)) == 0
        if wrong:
            value = ABSENT if required and draw(st.integers(0, 3)) == 0 else draw(bad)
        else:
            value = draw(good)
        if value is not ABSENT:
            body[name] = value
    if draw(st.integers(0, 4)) == 0:  # unknown fields are ignored; they never replace one
        extra = st.dictionaries(texts().filter(lambda k: k not in fields), junk(), max_size=3)
        body.update(draw(extra))
    return encode(body)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(ABSENT) | strategy


# Each field: (good values, bad values the server refuses before starting anything,
# required).
PARAMETERS_BAD = st.one_of(
    not_str(junk().filter(lambda v: not isinstance(v, dict) and v is not None)),
    st.dictionaries(texts().filter(lambda k: k != "n"), junk(), min_size=1, max_size=3),
    st.builds(lambda v: {"n": v}, junk().filter(
        lambda v: not (isinstance(v, int) and not isinstance(v, bool)))),
    st.builds(lambda k: {k: 1}, long_text()),
)
PARAMETERS_GOOD = optional(st.sampled_from([{}, {"n": 3}, {"n": 2**70}]))
STEPS_BAD = st.one_of(
    not_str(junk().filter(lambda v: not isinstance(v, dict) and v is not None)),
    st.dictionaries(texts().filter(lambda k: k not in ("from", "to", "only")), junk(),
                    min_size=1, max_size=2),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["from", "to"]),
              st.one_of(not_str(junk().filter(lambda v: v not in (None, "", 0, False, [],
                                                                  {}))),
                        st.sampled_from(["../x", "a b", "-x", "x;rm", "\x00",
                                         "--help", "1x"]))),
    st.builds(lambda v: {"only": v}, st.one_of(
        st.lists(st.sampled_from(["../x", "a b", "-x", "--all", "\x00"]), min_size=1),
        st.lists(not_str(junk().filter(lambda v: v is not None)), min_size=1),
        st.sampled_from(["double", 1, {"a": 1}, True]))),
)

RUN_FIELDS = {
    "path": (notebook_paths(), bad_paths(), True),
    "backend": (optional(st.sampled_from(["local"])),
                junk().filter(lambda v: v not in ("local", "kfp-local", "airflow", None)),
                False),
    "parameters": (PARAMETERS_GOOD, PARAMETERS_BAD, False),
    "use_cache": (optional(st.booleans()), not_bool(), False),
    "tracking": (optional(st.booleans()), not_bool(), False),
    "jobs": (optional(st.sampled_from([None, 0, 1, 4])),
             st.one_of(st.integers(max_value=-1), not_str_or_null().filter(
                 lambda v: not (isinstance(v, int) and not isinstance(v, bool)))), False),
    "tracking_uri": (optional(st.sampled_from([None, ""])), not_str_or_null(), False),
    "experiment": (optional(st.sampled_from([None, "", "e"])), not_str_or_null(), False),
    "steps": (optional(st.sampled_from([{}, None])), STEPS_BAD, False),
}
SUBMIT_FIELDS = {
    "path": (notebook_paths(), bad_paths(), True),
    "host": (st.just("http://127.0.0.1:9"),
             st.one_of(not_str(junk()), texts().filter(
                 lambda h: not h.strip().startswith(("http://", "https://")))), True),
    "parameters": (PARAMETERS_GOOD, PARAMETERS_BAD, False),
    "experiment": (optional(st.sampled_from([None, "", "e"])), not_str_or_null(), False),
    "image": (optional(st.sampled_from([None, "", "python:3.11"])), not_str_or_null(), False),
}
COMPILE_FIELDS = {
    "path": (notebook_paths(), bad_paths(), True),
    "target": (optional(st.sampled_from(["kfp", "airflow"])), junk(), False),
    "image": (optional(st.sampled_from([None, "", "python:3.11"]) | long_text()), junk(), False),
}
MODEL_FIELDS = {
    "name": (st.sampled_from(["m", "iris", "名前"]),
             st.one_of(not_str(junk()), st.sampled_from(["", " ", "\t"])), True),
    "version": (optional(st.sampled_from([None, "1", 1])),
                junk().filter(lambda v: v is not None and not isinstance(v, str | int)
                              or isinstance(v, bool)), False),
    "alias": (optional(st.sampled_from([None, ""])), not_str_or_null(), False),
    "tracking_uri": (optional(st.sampled_from(["sqlite:///nowhere/mlflow.db"])),
                     not_str_or_null(), False),
    "path": (optional(notebook_paths()), bad_paths().filter(
        lambda p: p not in (None, "") and not (isinstance(p, str) and not p.strip())), False),
}
SERVE_FIELDS = {**MODEL_FIELDS,
                "port": (optional(st.sampled_from([None])),
                         st.one_of(st.integers(max_value=1023), st.integers(min_value=65536),
                                   not_str_or_null().filter(lambda v: not (
                                       isinstance(v, int) and not isinstance(v, bool)))),
                         False)}
MONITOR_FIELDS = {**MODEL_FIELDS,
                  "data": (st.sampled_from(["data.csv"]),
                           bad_paths().filter(lambda p: p != "data.csv"), True),
                  "threshold": (optional(st.sampled_from([None, 0.2, 1])),
                                st.one_of(st.floats(max_value=0), st.integers(max_value=0),
                                          st.sampled_from([True, False, "0.2", [], {}])),
                                False)}


def query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote, encoding="utf-8", errors="surrogatepass")


@st.composite
def query_strings(draw: st.DrawFn, good_path: bool = False) -> str:
    """?path=...&... : good or bad paths, repeated and unknown arguments, raw junk."""
    pairs: list[tuple[str, str]] = []
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.sampled_from(["", "?", "?path", "?path=", "?path=%ff", "?path=%",
                                     "?path=%zz", "?&&&", "?path=nb.ipynb&path=%2e%2e%2fx",
                                     "?path=%00", "?=x", Long("?path=a", 20_000),
                                     "?path=nb.ipynb&limit=%ff", "?path=%ed%a0%80"]))
    if choice != 1:
        path = draw(notebook_paths() if good_path or draw(st.booleans())
                    else bad_paths(in_url=True))
        pairs.append(("path", path if isinstance(path, str) else encode(path).decode()))
    if draw(st.booleans()):
        pairs.append(("limit", draw(st.sampled_from(
            ["0", "1", "1000", "1001", "-1", "1.5", "", "x", "٣", "²", "9" * 400, " 5"])
            | texts(in_url=True))))
    if draw(st.booleans()):
        pairs.append(("tracking_uri", draw(st.sampled_from(
            ["http://127.0.0.1:9", "", "sqlite:///x.db", "file:///etc", "::"])
            | texts(in_url=True))))
    pairs += draw(st.lists(st.tuples(texts(in_url=True), texts(in_url=True)), max_size=2))
    return "?" + query(pairs)


def path_parts() -> st.SearchStrategy[str]:
    """One path segment of a URL, percent-encoded or raw."""
    return st.one_of(
        st.sampled_from(["..", ".", "%2e%2e", "%2F", "%2fetc%2fpasswd", "..%2f..%2fx", "%00",
                         "%ff", Long("a", 5000), "run", "-", "_", "20261126-000000-abcd",
                         "double", "%20", "a.b", "x..y", "~", "%ED%A0%80"]),
        st.builds(lambda t: quote(t, safe="", errors="surrogatepass"), texts(in_url=True)),
    )


RUN_ID = st.sampled_from(["", "2", "RUNID"])  # "RUNID": the fixture's recorded run


@st.composite
def any_call(draw: st.DrawFn, run_id: str) -> Call:
    """A request to one of the routes of docs/rest-api.md, or to a path next to them."""
    route = draw(st.sampled_from([
        "pipeline", "runs-get", "runs-post", "run-get", "run-delete", "step-notebook",
        "report", "compile", "submit", "status", "serve", "served", "served-delete",
        "monitor", "drift-report", "elsewhere", "method"]))
    return draw(call_to(route, run_id))


def call_to(route: str, run_id: str) -> st.SearchStrategy[Call]:
    """Requests to one route (names as in `any_call`)."""
    ids = st.one_of(st.just(run_id), st.just(run_id[:8]), path_parts())
    post = {"runs-post": ("/liminal/runs", RUN_FIELDS),
            "compile": ("/liminal/compile", COMPILE_FIELDS),
            "submit": ("/liminal/submit", SUBMIT_FIELDS),
            "serve": ("/liminal/models/serve", SERVE_FIELDS),
            "monitor": ("/liminal/models/monitor", MONITOR_FIELDS)}
    if route in post:
        target, fields = post[route]
        # compile starts nothing: anything goes; the others: invalid by construction.
        return st.builds(Call, st.just("POST"), st.builds(lambda q: target + q,
                                                             _maybe_query()),
                         bodies(fields, must_be_bad=route != "compile"))
    simple = {"pipeline": ("GET", "/liminal/pipeline"), "runs-get": ("GET", "/liminal/runs"),
              "status": ("GET", "/liminal/status"),
              "served": ("GET", "/liminal/models/served"),
              "drift-report": ("GET", "/liminal/models/report")}
    if route in simple:
        method, target = simple[route]
        queries = (st.sampled_from(["?path=.liminal/reports/drift-model-1.html"])
                   | query_strings()) if route == "drift-report" else query_strings()
        return st.builds(lambda q, body: Call(method, target + q, body), queries,
                         st.none() | st.binary(max_size=50))
    if route in ("run-get", "run-delete", "report"):
        method = "DELETE" if route == "run-delete" else "GET"
        tail = "/report" if route == "report" else ""
        return st.builds(lambda i, q: Call(method, f"/liminal/runs/{i}{tail}{q}"), ids,
                         query_strings())
    if route == "step-notebook":
        steps = st.one_of(st.just(STEP), path_parts())
        return st.builds(lambda i, s, q: Call("GET", f"/liminal/runs/{i}/steps/{s}/notebook{q}"),
                         ids, steps, query_strings())
    if route == "served-delete":
        return st.builds(lambda i: Call("DELETE", f"/liminal/models/served/{i}"),
                         st.one_of(path_parts(), st.sampled_from(["0", "abc", Long("f", 5000)])))
    if route == "elsewhere":
        return st.builds(
            lambda parts, q: Call("GET", "/liminal/" + "/".join(parts) + q),
            st.lists(path_parts() | st.sampled_from(["runs", "models", "steps", "notebook",
                                                     "report", "served"]),
                     min_size=0, max_size=5), query_strings())
    # "method": a method the route does not take (HEAD answers no body: left out)
    return st.builds(lambda m, t: Call(m, t, b"{}" if m in ("POST", "PUT", "PATCH") else None),
                     st.sampled_from(["PUT", "PATCH", "DELETE", "POST", "OPTIONS", "GET"]),
                     st.sampled_from(["/liminal/pipeline?path=nb.ipynb", "/liminal/status",
                                      "/liminal/compile", "/liminal/models/served",
                                      "/liminal/models/report?path=x.html",
                                      f"/liminal/runs/{run_id}/report?path=nb.ipynb"]))


def _maybe_query() -> st.SearchStrategy[str]:
    return st.just("") | query_strings()


# -- the check ---------------------------------------------------------------------------
OK_STATUSES = {200, 201, 202, 204}


def check_reply(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
    """The error contract (docs/rest-api.md): never a 5xx; an error is a 4xx with a JSON
    object carrying a readable "message"; no traceback in any reply."""
    text = body.decode("utf-8", errors="replace")
    if status == DROPPED:  # tornado drops a request head over 64 KiB: no handler ran
        assert over_head_limit(call.target), f"{call!r}: no reply"
        return
    assert status < 500, f"{call!r} -> {status}: {text[:2000]}"
    assert "Traceback (most recent call last)" not in text, f"{call!r} -> {text[:2000]}"
    assert 'File "' not in text or status < 400, f"{call!r} -> {text[:2000]}"
    if call.method == "OPTIONS" and status in OK_STATUSES:
        return
    if status in OK_STATUSES:
        return
    assert 400 <= status < 500, f"{call!r} -> {status}: {text[:2000]}"
    assert headers.get("content-type", "").startswith("application/json"), (
        f"{call!r} -> {status} {headers.get('content-type')}: {text[:500]}")
    reply = json.loads(body)
    assert isinstance(reply, dict) and isinstance(reply.get("message"), str), (
        f"{call!r} -> {status}: {text[:500]}")
    assert reply["message"].strip(), f"{call!r} -> {status}: empty message"
