"""Pipeline parameters from papermill's `parameters` cell.

Follows papermill's own conventions, so a notebook that papermill already parameterises
needs no change: `name = literal`, an annotation `name: float = 1` or a type comment
`name = 1  # type: float`, and the rest of the trailing comment is the help text. A help
text may carry `range: LO..HI` (bounds for a slider); `Literal["a", "b"]` gives choices.
Defaults must be literals to be typed; a computed default still runs but is typed 'any'.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from typing import Any

from liminal_jupyter.diagnostics import Diagnostics, Location
from liminal_jupyter.pipeline import CellRef, Parameter

_TYPE_COMMENT = re.compile(r"^type:\s*(.*)$", re.DOTALL)
_OPENERS, _CLOSERS = "([{", ")]}"
_RANGE = re.compile(r"range:\s*(-?[\d.eE+-]+)\s*\.\.\s*(-?[\d.eE+-]+)")
_SIMPLE = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


class _TypeSpec:
    def __init__(self, type_: str = "any", nullable: bool = False, choices: list | None = None):
        self.type = type_
        self.nullable = nullable
        self.choices = choices


def parse_parameters(
    cell: CellRef, tree: ast.Module, location: Location, diags: Diagnostics
) -> list[Parameter]:
    """Parameters defined by one `parameters` cell, in order."""
    comments = _comments_by_line(cell.source)
    params: list[Parameter] = []
    for stmt in tree.body:
        where = Location(location.notebook, cell.index, cell.id, stmt.lineno, location.cell_count)
        target, annotation, value = _assignment(stmt)
        if target is None:
            if not isinstance(stmt, ast.Import | ast.ImportFrom | ast.Expr):
                diags.warning(
                    "parameter-statement",
                    "this statement in the parameters cell defines no parameter; it runs but "
                    "cannot be set from outside. Parameters are assignments like `alpha = 0.5`.",
                    where,
                )
            continue
        comment = comments.get(getattr(stmt, "end_lineno", stmt.lineno), "")
        params.append(_parameter(target, annotation, value, comment, cell, where, diags))
    return params


def _assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        if isinstance(stmt.targets[0], ast.Name):
            return stmt.targets[0].id, None, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        return stmt.target.id, stmt.annotation, stmt.value
    return None, None, None


def _parameter(
    name: str,
    annotation: ast.expr | None,
    value: ast.expr,
    comment: str,
    cell: CellRef,
    where: Location,
    diags: Diagnostics,
) -> Parameter:
    help_text = comment
    spec = _TypeSpec()
    match = _TYPE_COMMENT.match(comment)
    if match:
        type_text, help_text = split_type_comment(match.group(1))
        spec = _type_from_source(type_text, name, where, diags)
    if annotation is not None:
        spec = _type_from_expr(annotation, name, where, diags)
    minimum = maximum = None
    bounds = _RANGE.search(help_text)
    if bounds:
        try:
            minimum, maximum = float(bounds.group(1)), float(bounds.group(2))
            help_text = (help_text[: bounds.start()] + help_text[bounds.end() :]).strip(" ,;-")
        except ValueError:
            diags.warning("parameter-range", f"parameter '{name}': cannot read the range in "
                          f"{bounds.group(0)!r}; write it as range: 1..10.", where)
    try:
        default = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        diags.warning(
            "parameter-not-literal",
            f"parameter '{name}' has a computed default ({ast.unparse(value)}); it runs as "
            "written, but its type is unknown and a value set from outside must be JSON.",
            where,
        )
        return Parameter(name, spec.type, None, help_text.strip(), True, spec.choices,
                         minimum, maximum, cell.index, cell.id, where.line)
    if not _json_safe(default):
        diags.error(
            "parameter-not-json",
            f"parameter '{name}' defaults to {ast.unparse(value)}, which cannot be passed as a "
            "pipeline parameter: values must be JSON (numbers, strings, booleans, None, lists, "
            "dicts with string keys; no infinity, NaN, bytes or complex numbers).",
            where,
        )
        default = None
    default = _check_default(name, spec, default, where, diags)
    return Parameter(
        name, spec.type, default, help_text.strip(), spec.nullable or default is None,
        spec.choices, minimum, maximum, cell.index, cell.id, where.line,
    )


def _check_default(name: str, spec: _TypeSpec, default: Any, where: Location, diags) -> Any:
    if isinstance(default, tuple | set):
        default = list(default)
    inferred = _type_of(default)
    if spec.type == "any" and spec.choices is None:
        spec.type = inferred
        return default
    if default is None and spec.nullable:
        return None
    if spec.type == "float" and inferred == "int":
        return float(default)
    if inferred != spec.type:
        diags.error(
            "parameter-type",
            f"parameter '{name}' is declared {spec.type} but its default {default!r} is "
            f"{inferred}.",
            where,
        )
    if spec.choices is not None and default not in spec.choices:
        diags.error(
            "parameter-choice",
            f"parameter '{name}' defaults to {default!r}, which is not one of its choices "
            f"{spec.choices}.",
            where,
        )
    return default


def _json_safe(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    return False


def _type_of(value: Any) -> str:
    if value is None:
        return "any"
    for type_name in ("bool", "int", "float", "str", "list", "dict"):
        if type(value) is _SIMPLE[type_name]:
            return type_name
    return "any"


def split_type_comment(text: str) -> tuple[str, str]:
    """`Literal['a', 'b']  the help` -> ("Literal['a', 'b']", "the help").

    The type ends at the first blank outside brackets and quotes, unless a `|` follows
    (`int | None`): people write spaces after commas and around `|`, as black formats
    them, so splitting at the first blank would cut the type in two.
    """
    depth, quote, i = 0, "", 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char.isspace() and depth == 0:
            rest = text[i:].lstrip()
            if rest.startswith("|"):
                i = len(text) - len(rest[1:].lstrip())
                continue
            if not text[:i].rstrip().endswith("|"):
                break
        i += 1
    return text[:i].strip(), text[i:].strip()


def _type_from_source(text: str, name: str, where: Location, diags: Diagnostics) -> _TypeSpec:
    try:
        expr = ast.parse(text, mode="eval").body
    except SyntaxError:
        diags.warning("parameter-type-unknown", f"parameter '{name}': cannot read type {text!r}.",
                      where)
        return _TypeSpec()
    return _type_from_expr(expr, name, where, diags)


def _type_from_expr(expr: ast.expr, name: str, where: Location, diags: Diagnostics) -> _TypeSpec:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return _type_from_source(expr.value, name, where, diags)
    if isinstance(expr, ast.Name) and expr.id in _SIMPLE:
        return _TypeSpec(expr.id)
    if isinstance(expr, ast.Name) and expr.id in ("Any", "object"):
        return _TypeSpec("any", nullable=True)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        # `X | None` (either side): X, nullable. Only X is read, so None is not
        # warned about as an unknown type.
        if _is_none(expr.right) or _is_none(expr.left):
            inner = expr.left if _is_none(expr.right) else expr.right
            spec = _type_from_expr(inner, name, where, diags)
            spec.nullable = True
            return spec
    if isinstance(expr, ast.Subscript):
        head = ast.unparse(expr.value).rpartition(".")[2]
        if head == "Optional":
            inner = _type_from_expr(expr.slice, name, where, diags)
            inner.nullable = True
            return inner
        if head == "Literal":
            elts = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
            try:
                choices = [ast.literal_eval(e) for e in elts]
            except ValueError:
                choices = []
            types = {_type_of(c) for c in choices}
            return _TypeSpec(types.pop() if len(types) == 1 else "any", choices=choices or None)
        if head.lower() in ("list", "dict"):
            return _TypeSpec(head.lower())
    diags.warning(
        "parameter-type-unknown",
        f"parameter '{name}': type {ast.unparse(expr)} is not one of int, float, str, bool, "
        "list, dict; it is treated as 'any'.",
        where,
    )
    return _TypeSpec()


def _is_none(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return comments
