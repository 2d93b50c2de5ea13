"""A code cell's source as a Python AST, the way IPython would run it.

Magics and `!` lines are not Python. IPython's own input transformer turns them into the
calls it really makes (`get_ipython().system(...)`), so analysis sees what runs. Magics
whose argument is Python that runs in the user namespace (`%time x = f()`, `%%time`,
`%%capture out`) are unwrapped first, or the names they assign would be invisible.
The transformer import costs ~0.1 s, so it is only loaded for cells that need it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# Magics that run their argument or body as Python code in the user's namespace.
_PYTHON_LINE_MAGICS = {"time", "timeit", "prun"}
_PYTHON_CELL_MAGICS = {"time", "timeit", "prun", "capture"}
_LINE_MAGIC = re.compile(r"^(\s*)%(time|timeit|prun)\b(.*)$")
_TIMEIT_OPTS = re.compile(r"^\s*(-[nrtcqpoa](\s*\d+)?\s+)*")
_EXPANSION = re.compile(r"\$([A-Za-z_]\w*)|\{([^{}]+)\}")
# Deepest nesting of the syntax tree we analyse. The analysis (ours, ast.unparse) recurses
# once or more per level, so a deeper cell raised RecursionError; CPython itself refuses
# brackets nested more than 200 deep; real cells stay far below 100 levels.
MAX_DEPTH = 100


@dataclass
class CellCode:
    """The parsed cell, plus names read by shell/magic lines through `$x` or `{x}`."""

    tree: ast.Module
    expansion_reads: list[tuple[str, int]] = field(default_factory=list)
    is_python: bool = True


class CellSyntaxError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


def cell_to_ast(source: str) -> CellCode:
    """Parse a cell; raise CellSyntaxError with the line (1-based, in the cell) if it cannot."""
    code = _cell_to_ast(source)
    _check_depth(code.tree)
    return code


def _check_depth(tree: ast.AST) -> None:
    """Refuse a tree deeper than MAX_DEPTH, without recursing (that is the point)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CellSyntaxError(
                f"the code is nested more than {MAX_DEPTH} levels deep (expressions or blocks "
                "inside each other), too deep to analyse; split it into smaller statements",
                getattr(node, "lineno", None))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except (MemoryError, RecursionError):  # CPython's parser gives up on deep nesting so
        raise CellSyntaxError(
            "the code is nested too deeply for Python's parser (expressions or blocks "
            "inside each other); split it into smaller statements", None) from None


def _cell_to_ast(source: str) -> CellCode:
    try:
        return CellCode(_parse(source))
    except SyntaxError as first_error:
        if not _has_ipython_syntax(source):
            raise _syntax_error(first_error) from None
    stripped = source.lstrip()
    if stripped.startswith("%%"):
        return _cell_magic(source)
    text = _unwrap_line_magics(source)
    reads = _expansion_reads(source)
    try:
        return CellCode(_parse(text), reads)
    except SyntaxError:
        pass
    import tokenize

    from IPython.core.inputtransformer2 import TransformerManager

    try:
        transformed = TransformerManager().transform_cell(text)
        return CellCode(_parse(transformed), reads)
    except SyntaxError as exc:  # IndentationError too, from IPython's tokenizer
        raise _syntax_error(exc) from None
    except RuntimeError as exc:  # "Input transformation still changing after 500 iterations"
        raise CellSyntaxError(f"IPython could not transform this cell: {exc}", None) from None
    except tokenize.TokenError as exc:  # ('EOF in multi-line statement', (line, column))
        position = exc.args[1] if len(exc.args) > 1 else None
        line = position[0] if isinstance(position, tuple) else None
        raise CellSyntaxError(f"syntax error, {exc.args[0]}", line) from None


def _has_ipython_syntax(source: str) -> bool:
    for line in source.splitlines():
        s = line.strip()
        if s.startswith(("%", "!")) or s.endswith("?") or re.search(r"=\s*[!%]", s):
            return True
    return False


def _syntax_error(exc: SyntaxError) -> CellSyntaxError:
    text = (exc.text or "").strip()
    detail = f": {text}" if text else ""
    return CellSyntaxError(f"syntax error, {exc.msg}{detail}", exc.lineno)


def _unwrap_line_magics(source: str) -> str:
    lines = source.split("\n")
    for i, line in enumerate(lines):
        match = _LINE_MAGIC.match(line)
        if match:
            indent, _, rest = match.groups()
            lines[i] = indent + _TIMEIT_OPTS.sub("", rest, count=1).strip()
    return "\n".join(lines)


def _cell_magic(source: str) -> CellCode:
    offset = len(source) - len(source.lstrip())
    first, _, body = source[offset:].partition("\n")
    name, _, args = first[2:].partition(" ")
    lead = source[:offset].count("\n")
    if name.strip() not in _PYTHON_CELL_MAGICS:
        # %%bash, %%writefile, %%html...: the body is not Python, so it reads no names.
        return CellCode(ast.Module(body=[], type_ignores=[]), is_python=False)
    # Keep line numbers: the magic's own line becomes a blank or the binding it makes.
    header = ""
    capture_var = args.split()[0] if name.strip() == "capture" and args.split() else ""
    if capture_var and not capture_var.startswith("-"):
        header = f"{capture_var} = None"
    inner = _cell_to_ast("\n" * lead + header + "\n" + body)
    return inner


def _expansion_reads(source: str) -> list[tuple[str, int]]:
    """Names that `!cmd {x}` and `%magic $x` lines read from the user namespace."""
    reads: list[tuple[str, int]] = []
    for lineno, line in enumerate(source.split("\n"), start=1):
        s = line.strip()
        shell = s.startswith(("!", "%")) or re.search(r"=\s*[!%]", s)
        if not shell:
            continue
        for dollar, braced in _EXPANSION.findall(s):
            if dollar:
                reads.append((dollar, lineno))
                continue
            try:
                expr = ast.parse(braced.strip(), mode="eval")
            except (SyntaxError, MemoryError, RecursionError):
                continue
            reads.extend(
                (n.id, lineno)
                for n in ast.walk(expr)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            )
    return reads
