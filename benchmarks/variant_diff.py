"""Why might one variant's implementation fail against the other's? Compare the two sources.

The annotated and anonymized variants of a problem were written separately, so their code can
differ. ``explain`` says whether it does, once names, type hints and docstrings are set aside:

- ``same code``: the two are the same program; a failure is the oracle's fault;
- ``target differs``: the same program, but the target rule picked different functions;
- ``signature``: the targets take different parameters (count or defaults);
- ``code differs``: the programs differ; the first differing line is given.
"""

from __future__ import annotations

import ast
import builtins
import difflib

from codearc_env.functions.spec import HiddenFunction

BUILTIN_NAMES = frozenset(dir(builtins))


def explain(fn: HiddenFunction, other: HiddenFunction) -> tuple[str, str]:
    """(category, detail) for ``other``'s module against ``fn``'s."""
    try:
        (mine, my_names), (theirs, their_names) = _normalized(fn.code), _normalized(other.code)
    except SyntaxError as exc:
        return "code differs", f"does not parse: {exc}"
    if ast.dump(mine) == ast.dump(theirs):
        if my_names.get(fn.target) != their_names.get(other.target):
            return "target differs", f"same code, but the targets are {fn.target} and {other.target}"
        return "same code", "identical after renaming; hints and docstrings dropped"
    sig_a, sig_b = _signature(fn), _signature(other)
    if sig_a != sig_b:
        return "signature", f"{fn.target}({sig_a}) vs {other.target}({sig_b})"
    a, b = ast.unparse(mine).splitlines(), ast.unparse(theirs).splitlines()
    changed = [
        line
        for line in difflib.unified_diff(a, b, lineterm="", n=0)
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++")) and line[1:].strip()
    ]
    # an import only one side has (typing names for hints) rarely explains a failure
    telling = [c for c in changed if not c[1:].lstrip().startswith(("import ", "from "))]
    if telling or changed:
        return "code differs", (telling or changed)[0][:160]
    return "code differs", "same lines in another order"


def _signature(fn: HiddenFunction) -> str:
    for node in ast.parse(fn.code).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == fn.target:
            args = node.args
            n_plain = len(args.posonlyargs) + len(args.args)
            parts = [f"{n_plain} positional", f"{len(args.defaults)} defaulted"]
            if args.vararg:
                parts.append("*args")
            if args.kwonlyargs:
                parts.append(f"{len(args.kwonlyargs)} keyword-only")
            if args.kwarg:
                parts.append("**kwargs")
            return ", ".join(parts)
    return "not a def"


def _normalized(source: str) -> tuple[ast.Module, dict[str, str]]:
    tree = ast.parse(source)
    normalizer = _Normalizer()
    normalizer.visit(tree)
    return tree, normalizer.names


class _Normalizer(ast.NodeTransformer):
    """Drops docstrings and hints; renames every bound name in order of first appearance."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def _strip_docstring(self, body: list[ast.stmt]) -> list[ast.stmt]:
        first = body[0] if body else None
        is_text = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        if is_text and isinstance(first.value.value, str):  # type: ignore[union-attr]
            return body[1:] or [ast.Pass()]
        return body

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._strip_docstring(node.body)
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._name(node.name)
        node.returns = None
        node.body = self._strip_docstring(node.body)
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._name(node.name)
        node.body = self._strip_docstring(node.body)
        return self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        return self.visit(ast.Assign(targets=[node.target], value=node.value, lineno=0))

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in BUILTIN_NAMES:
            return node
        node.id = self._name(node.id)
        return node
