"""Python's scoping rules for functions, lambdas, classes and comprehensions.

A nested scope reads a module-level name only if the name is not local to it (bound
anywhere in it, a parameter, a comprehension target) and no enclosing function binds it.
Those are the scope's *free global reads*; names it declares `global` and assigns are its
*global writes*. A step that calls a function reads and writes what the function does.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
ComprehensionNode = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
NESTED_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


@dataclass
class ScopeFacts:
    """What a nested scope needs from, and does to, the module namespace."""

    reads: set[str] = field(default_factory=set)
    global_writes: set[str] = field(default_factory=set)
    # Names bound in the *enclosing* scope by a walrus inside a comprehension.
    leaked_bindings: set[str] = field(default_factory=set)


def scope_facts(node: ast.AST) -> ScopeFacts:
    """Free global reads and global writes of a def, lambda, class or comprehension node."""
    return _Scope(node).facts()


class _Scope:
    def __init__(self, node: ast.AST):
        self.node = node
        self.bound: set[str] = set()
        self.loads: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        self.children: list[ast.AST] = []
        self.walrus: set[str] = set()
        self._collect()

    def _collect(self) -> None:
        node = self.node
        if isinstance(node, FunctionNode):
            self._bind_arguments(node.args)
            body = node.body if isinstance(node.body, list) else [node.body]
            for stmt in body:
                self._visit(stmt)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                self._visit(stmt)
        elif isinstance(node, ComprehensionNode):
            for gen in node.generators:
                self._visit_target(gen.target)
                self._visit(gen.iter)
                for cond in gen.ifs:
                    self._visit(cond)
            if isinstance(node, ast.DictComp):
                self._visit(node.key)
                self._visit(node.value)
            else:
                self._visit(node.elt)

    def _bind_arguments(self, args: ast.arguments) -> None:
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            self.bound.add(arg.arg)
        if args.vararg:
            self.bound.add(args.vararg.arg)
        if args.kwarg:
            self.bound.add(args.kwarg.arg)

    def _visit_target(self, target: ast.AST) -> None:
        for n in ast.walk(target):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                self.bound.add(n.id)
            elif isinstance(n, ast.Name):
                self.loads.add(n.id)

    def _visit(self, node: ast.AST) -> None:
        """Walk one scope's own nodes; nested scopes are recorded, not entered."""
        if isinstance(node, NESTED_SCOPES) and node is not self.node:
            self._visit_nested_header(node)
            self.children.append(node)
            return
        if isinstance(node, ast.Global):
            self.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            self.declared_nonlocal.update(node.names)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.loads.add(node.id)
            else:
                self.bound.add(node.id)
        elif isinstance(node, ast.NamedExpr):
            name = node.target.id
            if isinstance(self.node, ComprehensionNode):
                self.walrus.add(name)
            else:
                self.bound.add(name)
            self._visit(node.value)
            return
        elif isinstance(node, ast.alias):
            if node.name != "*":
                self.bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bound.add(node.rest)
        for child in ast.iter_child_nodes(node):
            self._visit(child)

    def _visit_nested_header(self, node: ast.AST) -> None:
        """Parts of a nested scope that run in *this* scope: name, defaults, decorators."""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.bound.add(node.name)
            for dec in node.decorator_list:
                self._visit(dec)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self._visit(default)
        if isinstance(node, ast.ClassDef):
            for base in [*node.bases, *(k.value for k in node.keywords)]:
                self._visit(base)

    def facts(self) -> ScopeFacts:
        is_class = isinstance(self.node, ast.ClassDef)
        local = (self.bound | self.walrus) - self.declared_global - self.declared_nonlocal
        reads = set(self.loads) - local if not is_class else set(self.loads) - self.bound
        writes = self.declared_global & (self.bound | self.walrus)
        leaked = set(self.walrus) if isinstance(self.node, ComprehensionNode) else set()
        for child in self.children:
            sub = _Scope(child).facts()
            # Method bodies skip the class scope; functions filter through their locals.
            visible = sub.reads if is_class else sub.reads - local
            reads |= visible
            writes |= sub.global_writes
            leaked_here = sub.leaked_bindings
            if isinstance(self.node, ComprehensionNode):
                leaked |= leaked_here
            elif not is_class:
                leaked_here = leaked_here - local
                writes |= leaked_here & self.declared_global
        reads |= self.declared_global & self.loads
        return ScopeFacts(reads, writes, leaked)
