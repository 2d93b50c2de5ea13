"""What one step reads from earlier steps and what it leaves for later ones.

The step's cells are walked statement by statement, in the order they run, tracking which
module-level names the step has certainly bound (`definite`) or may have bound (`maybe`,
inside a branch, loop or try). A read of a name the step has not certainly bound yet is an
external read: *hard* when the step cannot have bound it (it must come from upstream), *soft*
when the step may have (it comes from upstream if upstream has it).

The mutation rule: `x.a = v`, `x[i] = v`, `x += v`, `del x[i]` and a method call `x.m()`
may change `x` in place, so the step both reads `x` and produces a new version of it.
Names bound by imports are re-run by the steps that use them, never passed as data.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from liminal_jupyter.notebook.scopes import ScopeFacts, scope_facts

# Names a notebook can use without defining them: Python's builtins and IPython's.
BUILTIN_NAMES = frozenset(dir(builtins)) | {
    "get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___",
    "_i", "_ii", "_iii", "_oh", "_dh", "__name__", "__builtins__", "__doc__",
}  # fmt: skip


@dataclass(frozen=True)
class Read:
    name: str
    cell: int  # position of the cell within the analysed block
    line: int
    hard: bool


@dataclass
class BlockFacts:
    """The summary of a step (or the prelude) that the pipeline builder needs."""

    reads: list[Read] = field(default_factory=list)
    produced: set[str] = field(default_factory=set)  # assigned or mutated, alive at the end
    deleted: set[str] = field(default_factory=set)  # deleted and not bound again
    imports: dict[str, str] = field(default_factory=dict)  # name -> import statement
    functions: dict[str, ScopeFacts] = field(default_factory=dict)
    star_imports: list[tuple[int, int, str]] = field(default_factory=list)  # cell, line, module


@dataclass
class _State:
    definite: set[str] = field(default_factory=set)
    maybe: set[str] = field(default_factory=set)

    def copy(self) -> _State:
        return _State(set(self.definite), set(self.maybe))


class BlockAnalyzer:
    """Analyse a sequence of cells that run one after another in one namespace.

    `functions` maps names bound to functions or classes defined *before* this block (in the
    prelude or upstream steps) to their scope facts, so calling them counts their reads.
    """

    def __init__(
        self,
        functions: dict[str, ScopeFacts] | None = None,
        modules: set[str] | frozenset[str] = frozenset(),
    ):
        self.external_functions = dict(functions or {})
        self.external_modules = set(modules)  # names bound by imports before this block
        self._deleted: set[str] = set()
        self.facts = BlockFacts()
        self.state = _State()
        self.assigned_anywhere: set[str] = set()
        self.mutated: set[str] = set()
        self._cell = 0
        self._deferred: list[Read] = []

    # -- public -------------------------------------------------------------------------
    def add_cell(self, tree: ast.Module, extra_reads: list[tuple[str, int]] = ()) -> None:
        self.assigned_anywhere |= _all_bindings(tree)
        for name, line in extra_reads:
            self._read(name, line)
        for stmt in tree.body:
            self._stmt(stmt)
        self._cell += 1

    def finish(self) -> BlockFacts:
        for read in self._deferred:
            hard = read.name not in self.assigned_anywhere
            self.facts.reads.append(Read(read.name, read.cell, read.line, hard))
        alive = self.state.definite | self.state.maybe
        produced = (self.assigned_anywhere | self.mutated) & alive
        self.facts.produced = produced - set(self.facts.imports)
        self.facts.deleted = (self.assigned_anywhere | self.mutated | self._deleted) - alive
        self.facts.functions = {
            k: v for k, v in self.facts.functions.items() if k in self.facts.produced
        }
        return self.facts

    # -- names --------------------------------------------------------------------------
    def _read(self, name: str, line: int, deferred: bool = False, seen: frozenset = frozenset()):
        if name not in self.state.definite:
            read = Read(name, self._cell, line, hard=name not in self.state.maybe)
            if deferred and read.hard:
                self._deferred.append(read)
            else:
                self.facts.reads.append(read)
        self._call(name, line, seen)

    def _call(self, name: str, line: int, seen: frozenset) -> None:
        """Referencing a function may call it: it reads and writes what its body does."""
        if name in seen:
            return
        local = name in self.state.definite or name in self.state.maybe
        facts = self.facts.functions.get(name) if local else self.external_functions.get(name)
        if facts is None:
            return
        for free in sorted(facts.reads):
            self._read(free, line, deferred=False, seen=seen | {name})
        for written in facts.global_writes:
            self._bind(written, maybe=True)

    def _bind(self, name: str, maybe: bool = False) -> None:
        self.assigned_anywhere.add(name)
        self.facts.imports.pop(name, None)
        if maybe:
            if name not in self.state.definite:
                self.state.maybe.add(name)
        else:
            self.state.definite.add(name)
            self.state.maybe.discard(name)

    def _delete(self, name: str, line: int) -> None:
        self._read(name, line)
        self.state.definite.discard(name)
        self.state.maybe.discard(name)
        self.facts.imports.pop(name, None)
        self.facts.functions.pop(name, None)
        self._deleted.add(name)

    def _is_module(self, name: str) -> bool:
        """Modules (and builtins such as get_ipython) are not data: calling them mutates none."""
        if name in self.facts.imports:
            return True
        bound_here = name in self.state.definite or name in self.state.maybe
        return not bound_here and (name in self.external_modules or name in BUILTIN_NAMES)

    def _mutate(self, target: ast.expr) -> None:
        root = _root_name(target)
        if root is None or self._is_module(root.id):
            return
        self.mutated.add(root.id)
        if root.id not in self.state.definite:
            self.state.maybe.add(root.id)

    # -- expressions --------------------------------------------------------------------
    def _expr(self, node: ast.AST | None) -> None:
        if node is None:
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self._read(node.id, node.lineno)
            return
        if isinstance(node, ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                self._expr(default)
            for free in sorted(scope_facts(node).reads):
                self._read(free, node.lineno, deferred=True)
            return
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            facts = scope_facts(node)
            for free in sorted(facts.reads):
                self._read(free, node.lineno)
            for name in facts.leaked_bindings:
                self._bind(name)
            return
        if isinstance(node, ast.NamedExpr):
            self._expr(node.value)
            self._bind(node.target.id)
            return
        if isinstance(node, ast.Call):
            self._expr(node.func)
            for arg in node.args:
                self._expr(arg)
            for kw in node.keywords:
                self._expr(kw.value)
            if isinstance(node.func, ast.Attribute):
                self._mutate(node.func.value)
            return
        for child in ast.iter_child_nodes(node):
            self._expr(child)

    def _target(self, target: ast.expr, maybe: bool = False) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, maybe)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._target(elt, maybe)
        elif isinstance(target, ast.Starred):
            self._target(target.value, maybe)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            self._expr(target.value)
            if isinstance(target, ast.Subscript):
                self._expr(target.slice)
            self._mutate(target)

    # -- statements ---------------------------------------------------------------------
    def _stmt(self, node: ast.stmt) -> None:
        handler = getattr(self, f"_stmt_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._stmt(child)
                else:
                    self._expr(child)

    def _stmt_Expr(self, node: ast.Expr) -> None:
        self._expr(node.value)
        script = _run_magic_target(node.value)
        if script is not None:  # `%run x.py` defines what x.py does, as `import *` would
            self.facts.star_imports.append((self._cell, node.lineno, f"%run {script}"))

    def _stmt_Assign(self, node: ast.Assign) -> None:
        self._expr(node.value)
        for target in node.targets:
            self._target(target)

    def _stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._expr(node.annotation)
        if node.value is not None:
            self._expr(node.value)
            self._target(node.target)

    def _stmt_AugAssign(self, node: ast.AugAssign) -> None:
        self._expr(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id, node.lineno)
            self._bind(node.target.id)
            self.mutated.add(node.target.id)
        else:
            self._target(node.target)

    def _stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._delete(target.id, node.lineno)
            elif isinstance(target, ast.Tuple | ast.List):
                for elt in target.elts:
                    self._stmt_Delete(ast.Delete(targets=[elt], lineno=node.lineno))
            else:
                self._target(target)

    def _stmt_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self._bind(name)
            self.facts.imports[name] = ast.unparse(ast.Import(names=[alias]))

    def _stmt_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.facts.star_imports.append((self._cell, node.lineno, node.module or "."))
                continue
            name = alias.asname or alias.name
            self._bind(name)
            stmt = ast.ImportFrom(module=node.module, names=[alias], level=node.level)
            self.facts.imports[name] = ast.unparse(stmt)

    def _stmt_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for dec in node.decorator_list:
            self._expr(dec)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            self._expr(default)
        self._bind(node.name)
        self.facts.functions[node.name] = scope_facts(node)

    _stmt_AsyncFunctionDef = _stmt_FunctionDef

    def _stmt_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self._expr(expr)
        facts = scope_facts(node)
        for free in sorted(facts.reads):
            self._read(free, node.lineno, deferred=True)
        self._bind(node.name)
        self.facts.functions[node.name] = facts

    def _stmt_If(self, node: ast.If) -> None:
        self._expr(node.test)
        self._branches([node.body, node.orelse])

    def _stmt_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._expr(node.iter)
        before = self.state.copy()
        self._target(node.target)  # bound inside the body; only 'maybe' after the loop
        self._block(node.body)
        self._block(node.orelse)
        self._demote(before)

    _stmt_AsyncFor = _stmt_For

    def _stmt_While(self, node: ast.While) -> None:
        self._expr(node.test)
        before = self.state.copy()
        self._block(node.body)
        self._block(node.orelse)
        self._demote(before)

    def _stmt_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self._expr(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        self._block(node.body)

    _stmt_AsyncWith = _stmt_With

    def _stmt_Try(self, node: ast.Try) -> None:
        before = self.state.copy()
        self._block(node.body)
        self._block(node.orelse)
        for handler in node.handlers:
            self._expr(handler.type)
            if handler.name:
                self._bind(handler.name)
            self._block(handler.body)
        self._demote(before)
        self._block(node.finalbody)

    _stmt_TryStar = _stmt_Try

    def _stmt_Match(self, node: ast.Match) -> None:
        self._expr(node.subject)
        before = self.state.copy()
        for case in node.cases:
            for sub in ast.walk(case.pattern):
                if isinstance(sub, ast.MatchValue):
                    self._expr(sub.value)
                elif isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
                    self._bind(sub.name, maybe=True)
                elif isinstance(sub, ast.MatchMapping) and sub.rest:
                    self._bind(sub.rest, maybe=True)
            self._expr(case.guard)
            self._block(case.body)
        self._demote(before)

    def _stmt_Global(self, node: ast.Global) -> None:
        """`global` at module level changes nothing."""

    _stmt_Nonlocal = _stmt_Global

    # -- control flow -------------------------------------------------------------------
    def _block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self._stmt(stmt)

    def _branches(self, bodies: list[list[ast.stmt]]) -> None:
        start = self.state.copy()
        ends = []
        for body in bodies:
            self.state = start.copy()
            self._block(body)
            ends.append(self.state)
        definite = set.intersection(*(e.definite for e in ends))
        maybe = set.union(*(e.definite | e.maybe for e in ends)) - definite
        self.state = _State(definite, maybe)

    def _demote(self, before: _State) -> None:
        """Bindings made in a body that may not run, or may stop early, are only 'maybe'."""
        after = self.state
        definite = before.definite & after.definite
        lost = before.definite - after.definite
        self.state = _State(definite, (after.definite | after.maybe | lost) - definite)


def _root_name(node: ast.expr) -> ast.Name | None:
    """The variable a mutation of `node` changes. Through `x.m()` it is still x (a method
    may hand out part of x), but `f(...)` is a new value: `f(...).fit()` changes no f."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return None
        node = node.func if isinstance(node, ast.Call) else node.value
    return node if isinstance(node, ast.Name) else None


def _all_bindings(tree: ast.Module) -> set[str]:
    """Every module-level name the cell may bind, wherever in it (for deferred reads)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            return
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            names.update(n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr))
            return
        if isinstance(node, ast.GeneratorExp):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias) and node.name != "*":
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _run_magic_target(node: ast.expr) -> str | None:
    """The arguments of `%run ...` as IPython transforms it
    (`get_ipython().run_line_magic('run', 'x.py')`), else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run_line_magic" and len(node.args) == 2):
        return None
    owner = node.func.value
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
            and owner.func.id == "get_ipython"):
        return None
    name, args = node.args
    if isinstance(name, ast.Constant) and name.value == "run" and \
            isinstance(args, ast.Constant) and isinstance(args.value, str):
        return args.value.strip()
    return None
