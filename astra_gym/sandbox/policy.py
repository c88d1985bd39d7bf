"""Compile tool source under the sandbox policy.

RestrictedPython rewrites attribute, item and iteration access into calls to
guard hooks; this module adds what it leaves out (research/tech.md §1-2):

* ``d[k] op= v`` becomes ``d[k] = d[k] op v`` (RestrictedPython refuses the
  augmented form, and LLM-written tools use it constantly), for targets whose
  re-evaluation has no side effects.
* A tick, ``_tick_()``, at the start of every loop body and function body and
  as the first condition of every comprehension clause: the deterministic
  operation budget. Entering an ``except`` handler costs ``_handler_()``, a
  flat 100 operations.
* Size guards for the operators that allocate in C: ``*``, ``**``, ``<<``,
  ``+`` and ``%`` become ``_mul_``/``_pow_``/``_lshift_``/``_add_``/``_mod_``
  unless a constant operand makes them provably numeric, and every f-string
  field goes through ``_fvs_``/``_fv_`` (format-spec widths, set ordering).
* ``a[k]`` stays a native subscript; only slices (copies) go through the
  charged ``_getitem_``.
* ``*iterable`` in calls and displays goes through ``_star_`` (capped).
* ``obj.name`` is a native attribute load unless ``name`` is one of the
  size-guarded methods (``join``, ``ljust``, ``format``, ...).
* ``x: T = v`` becomes ``x = v``.
* ``str(x)`` and ``repr(x)`` become ``_str_``/``_repr_`` so container renderings
  are size-checked and sets render in a stable order.

Code objects are cached by sha256 of the source and :data:`POLICY_VERSION`:
compiling costs about a millisecond, calling costs microseconds.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from types import CodeType

from RestrictedPython import compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer

from .guards import GUARDED_METHODS

__all__ = ["ANNOTATED_FIELDS", "POLICY_VERSION", "CompiledTool", "compile_tool", "source_hash"]

#: Bump when the transformation changes: it is part of the cache key.
POLICY_VERSION = "astra-sandbox-8"
#: The class-body name that carries a class's annotated names to the class builder.
ANNOTATED_FIELDS = "_astra_annotated_fields_"

_CACHE_SIZE = 4096
_HANDLER_OPS = 100  # operations charged on entering an except handler
_FILENAME = "<tool>"

_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Add: "_add_",
    ast.Mod: "_mod_",
    ast.Sub: "_sub_",
    ast.FloorDiv: "_floordiv_",
    ast.Div: "_truediv_",
    ast.BitOr: "_or_",
    ast.BitAnd: "_and_",
    ast.BitXor: "_xor_",
}
# Operators that are linear or better when one operand is a number: a numeric
# constant on either side proves the operation cheap (`x - 1`, `n // 2`, `f | 4`).
_NUMERIC_WHEN_CONSTANT = (ast.Sub, ast.FloorDiv, ast.Div, ast.BitOr, ast.BitAnd, ast.BitXor)
#: Largest integer literal in tool source, in bits (CPython parses hex literals of
#: any length; the sandbox's arithmetic guards assume ints within max_int_bits).
MAX_LITERAL_BITS = 100_000
_SMALL_LITERAL = 4096  # `x in "..."`: constant strings up to this length stay native


@dataclass(frozen=True, slots=True)
class CompiledTool:
    """A tool source compiled under the policy.

    Attributes:
        key: Cache key (sha256 of policy version and source).
        code: The module code object, or None when compilation failed.
        errors: Readable compile errors (empty on success).
    """

    key: str
    code: CodeType | None
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.code is not None


def source_hash(source: str) -> str:
    """The cache key of ``source`` under the current policy."""
    digest = hashlib.sha256(POLICY_VERSION.encode())
    digest.update(b"\0")
    digest.update(source.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _is_pure(node: ast.AST) -> bool:
    """True when evaluating ``node`` twice is the same as evaluating it once."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    if isinstance(node, ast.Attribute):
        return _is_pure(node.value)
    if isinstance(node, ast.Subscript):
        return _is_pure(node.value) and _is_pure(node.slice)
    if isinstance(node, ast.Slice):
        return all(part is None or _is_pure(part) for part in (node.lower, node.upper, node.step))
    if isinstance(node, ast.Tuple):
        return all(_is_pure(elt) for elt in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_pure(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_pure(node.left) and _is_pure(node.right)
    return False


def _numeric_constant(node: ast.AST, kinds: tuple[type, ...]) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in kinds


_SMALL = 1 << 32


def _small_number(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and type(node.value) in (int, float)
            and abs(node.value) < _SMALL)


def _needs_guard(node: ast.BinOp) -> bool:
    """Whether a binary operation could allocate without bound.

    Constant operands prove some operations numeric: ``x + 1`` cannot be a
    sequence concatenation and ``x * 1.5`` cannot repeat a sequence. Two
    constants are *not* safe in general: CPython declines to fold
    ``"%1000000000d" % 1`` or ``"a" * 10000000000`` at compile time and runs
    them unguarded, so only small numeric pairs skip the guard.
    """
    left, right = node.left, node.right
    op = type(node.op)
    if _small_number(left) and _small_number(right):
        if op is ast.Pow:
            return abs(right.value) > 64  # type: ignore[attr-defined]
        if op is ast.LShift:
            return right.value > 64  # type: ignore[attr-defined]
        return False
    if op is ast.Add:
        return not (_numeric_constant(left, (int, float, complex))
                    or _numeric_constant(right, (int, float, complex)))
    if op is ast.Mult:
        return not (_numeric_constant(left, (float, complex))
                    or _numeric_constant(right, (float, complex)))
    if op is ast.Pow:
        return not (_numeric_constant(right, (float, complex))
                    or _numeric_constant(left, (float, complex)))
    if op is ast.Mod:
        return not _numeric_constant(left, (int, float))
    if op in _NUMERIC_WHEN_CONSTANT:
        return not (_numeric_constant(left, (int, float, complex))
                    or _numeric_constant(right, (int, float, complex)))
    return True  # LShift


def _has_slice(node: ast.AST) -> bool:
    if isinstance(node, ast.Slice):
        return True
    return isinstance(node, ast.Tuple) and any(isinstance(e, ast.Slice) for e in node.elts)


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _tick_stmt() -> ast.Expr:
    return ast.Expr(_call("_tick_"))


def _is_literal(node: ast.AST) -> bool:
    """A display of constants, or a short constant: membership in it is cheap."""
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, str | bytes) or len(node.value) <= _SMALL_LITERAL
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return len(node.elts) <= 64 and all(isinstance(e, ast.Constant) for e in node.elts)
    return False


class _Instrument(ast.NodeTransformer):
    """Second pass, after RestrictedPython: ticks and size guards.

    It runs on the already-restricted tree, so the ``_``-prefixed hook names it
    introduces never meet RestrictedPython's name checks.
    """

    def _tick_body(self, body: list[ast.stmt], *, skip_docstring: bool = False) -> None:
        index = 0
        if (skip_docstring and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            index = 1
        body.insert(index, _tick_stmt())

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        self._tick_body(node.body, skip_docstring=True)
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        self._tick_body(node.body)
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        self.generic_visit(node)
        self._tick_body(node.body)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        self.generic_visit(node)
        # Entering a handler cuts the handled exception's context chain and is
        # charged a flat amount (see guards._handler_): catch-and-retry code
        # would otherwise cost superlinear time per tick.
        node.body.insert(0, ast.Expr(_call("_handler_", ast.Constant(_HANDLER_OPS))))
        return node

    def visit_Try(self, node: ast.Try) -> ast.AST:
        self.generic_visit(node)
        if node.finalbody:
            # A finally block run by a propagating exception is a handler too
            # (retry-in-finally grows the same context chains); it also runs
            # on normal exit, so it costs a single operation.
            node.finalbody.insert(0, ast.Expr(_call("_handler_", ast.Constant(1))))
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        # `_tick_()` returns an int (possibly 0), so compare against None to
        # get a condition that is always true.
        tick_true = ast.Compare(left=_call("_tick_"), ops=[ast.IsNot()],
                                comparators=[ast.Constant(None)])
        node.ifs.insert(0, tick_true)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        self.generic_visit(node)
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice):
            # `xs[a:b] = it` copies `it` and moves the tail in C: through a hook
            # that materialises, sizes and charges the items first.
            part = target.slice
            call = _call("_setslice_", target.value,
                         *(p if p is not None else ast.Constant(None)
                           for p in (part.lower, part.upper, part.step)), node.value)
            return ast.copy_location(ast.Expr(call), node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        # `x in big_list` scans in C: the right operand goes through a hook that
        # charges what the test will scan (dicts and sets pass straight through).
        node.comparators = [
            ast.copy_location(_call("_haystack_", comparator), comparator)
            if isinstance(op, ast.In | ast.NotIn) and not _is_literal(comparator) else comparator
            for op, comparator in zip(node.ops, node.comparators, strict=True)]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None or not _needs_guard(node):
            return node
        return ast.copy_location(_call(guard, node.left, node.right), node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        if node.format_spec is None and node.conversion == -1:
            value = _call("_fvs_", node.value)  # the common `{name}`: a leaner hook
        else:
            spec: ast.expr = (node.format_spec if node.format_spec is not None
                              else ast.Constant(""))
            value = _call("_fv_", node.value, ast.Constant(node.conversion), spec)
        return ast.copy_location(
            ast.FormattedValue(value=value, conversion=-1, format_spec=None), node)

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            # `f(*it)` and `[*it]` expand in C: materialise through a capped,
            # ticking helper first.
            node.value = _call("_star_", node.value)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Name) and func.id == "_getattr_" and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and node.args[1].value not in GUARDED_METHODS):
            # The name is a constant RestrictedPython has already vetted (no "_"
            # prefix, no frame/generator internals), so `getattr(obj, name)` in
            # the hook would add nothing but a call: load it natively. Names of
            # size-guarded methods keep the hook.
            return ast.copy_location(
                ast.Attribute(value=node.args[0], attr=node.args[1].value, ctx=ast.Load()), node)
        if (isinstance(func, ast.Name) and func.id == "_getitem_" and len(node.args) == 2
                and not _has_slice(node.args[1])):
            # RestrictedPython routes every `a[k]` through `_getitem_`; only
            # slices (which copy) need our hook, so plain indexing goes back to
            # the native subscript: the most frequent operation in mock-data
            # tools, at native speed.
            return ast.copy_location(
                ast.Subscript(value=node.args[0], slice=node.args[1], ctx=ast.Load()), node)
        if (isinstance(func, ast.Name) and func.id in ("str", "repr")
                and len(node.args) == 1 and not node.keywords
                and not isinstance(node.args[0], ast.Starred)):
            node.func = ast.copy_location(ast.Name(f"_{func.id}_", ast.Load()), func)
        return node


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus subscript augmented assignment and
    annotated assignment (both common in LLM-written code, both refused by
    RestrictedPython itself)."""

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        # The annotated names of a class body, in order, survive as one tuple of
        # strings (`x: int` alone declares nothing at runtime here, see below):
        # the class builder turns them into the fields of a ``typing.NamedTuple``
        # class. The name starts with "_", so tool code can neither set nor read it.
        fields = [statement.target.id for statement in node.body
                  if isinstance(statement, ast.AnnAssign) and statement.simple
                  and isinstance(statement.target, ast.Name)]
        built = super().visit_ClassDef(node)
        if fields and isinstance(built, ast.ClassDef):
            record = ast.Assign(targets=[ast.Name(ANNOTATED_FIELDS, ast.Store())],
                                value=ast.Tuple([ast.Constant(name) for name in fields],
                                                ast.Load()))
            built.body.insert(0, ast.fix_missing_locations(ast.copy_location(record, node)))
        return built

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # `x: int = 0` -> `x = 0`; a bare `x: int` declares nothing at runtime.
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        assign = ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
        return self.visit(assign)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        target = node.target
        if isinstance(target, ast.Subscript) and _is_pure(target):
            # RestrictedPython rewrites nodes in place, so the load side needs
            # its own copy of the target expression.
            load = ast.Subscript(value=copy.deepcopy(target.value),
                                 slice=copy.deepcopy(target.slice), ctx=ast.Load())
            store = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Store())
            # Re-use the name-level hook so every augmented operator keeps its
            # in-place semantics (list += extends, etc.).
            rewritten = ast.Assign(
                targets=[store],
                value=ast.BinOp(left=load, op=node.op, right=node.value),
            )
            ast.copy_location(rewritten, node)
            ast.fix_missing_locations(rewritten)
            return self.visit(rewritten)
        return super().visit_AugAssign(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) is int and node.value.bit_length() > MAX_LITERAL_BITS:
            self.error(node, f"integer literal of {node.value.bit_length():,} bits is beyond "
                             f"the sandbox limit of {MAX_LITERAL_BITS:,}")
        return super().visit_Constant(node)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node = super().visit_Module(node)
        return ast.fix_missing_locations(_Instrument().visit(node))


_cache: OrderedDict[str, CompiledTool] = OrderedDict()
_by_text: OrderedDict[str, CompiledTool] = OrderedDict()  # source text -> the same entries
_cache_lock = threading.Lock()


def _compile_uncached(source: str, key: str) -> CompiledTool:
    # Tool source is not ours: its SyntaxWarnings (invalid escapes, ...) must
    # not reach the host's warning filters or stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _compile_quietly(source, key)


def _compile_quietly(source: str, key: str) -> CompiledTool:
    try:
        tree = ast.parse(source, filename=_FILENAME)
    except SyntaxError as exc:
        line = f"Line {exc.lineno}: " if exc.lineno else ""
        return CompiledTool(key, None, (f"{line}SyntaxError: {exc.msg}",))
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        return CompiledTool(key, None, (f"{type(exc).__name__}: {exc}",))
    try:
        result = compile_restricted_exec(tree, filename=_FILENAME, policy=SandboxPolicy)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        return CompiledTool(key, None, (f"{type(exc).__name__}: {exc}",))
    if result.errors or result.code is None:
        return CompiledTool(key, None, tuple(result.errors) or ("compilation failed",))
    return CompiledTool(key, result.code, ())


def compile_tool(source: str) -> CompiledTool:
    """Compile ``source`` under the sandbox policy, with caching.

    Args:
        source: Python source defining the tool function (and any helpers).

    Returns:
        A :class:`CompiledTool`; check ``.ok`` and read ``.errors`` (readable
        strings suitable to feed back to an LLM) when it failed. Never raises
        for bad source.
    """
    if not isinstance(source, str):
        raise TypeError(f"tool source must be str, got {type(source).__name__}")
    exact = type(source) is str  # a str subclass could answer == and hash() itself
    with _cache_lock:
        # By the text itself first: a str caches its hash, so a source seen before (the
        # same object every episode) costs a dict lookup instead of a sha256 of the text.
        hit = _by_text.get(source) if exact else None
        if hit is not None:
            _by_text.move_to_end(source)
            return hit
    key = source_hash(source)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    compiled = hit if hit is not None else _compile_uncached(source, key)
    with _cache_lock:
        _cache[key] = compiled
        if exact:
            _by_text[source] = compiled
        for cache in (_cache, _by_text):
            if len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
    return compiled


def clear_cache() -> None:
    """Drop every cached code object (for cold-compile benchmarks and tests)."""
    with _cache_lock:
        _cache.clear()
        _by_text.clear()
