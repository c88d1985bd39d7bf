"""Trusted backends: library classes that run a task's tools instead of the sandbox.

A task with a ``backend`` (:class:`~astra_gym.pack.Backend`) names Python
classes by module and class name, with the state each one starts from. Every
episode gets fresh instances (``_load_scenario`` of the config, parsed afresh
from its JSON text, which keeps key order); a call is
dispatched by name to a *public method* of one of them, with keyword arguments
that are JSON data. Nothing is ever evaluated: the env's parsers turn model
output into a name and JSON arguments (Python-call syntax is read with
:mod:`ast`, literals only), and the dispatcher checks both again.

Only modules under :data:`TRUSTED_MODULE_PREFIXES` may be named, so a pack can
reach BFCL's multi-turn classes and nothing else (``os``, ``subprocess``, a
module of its own). Results are rendered exactly as BFCL's
``execute_multi_turn_func_call`` renders them, so its checker's comparisons
carry over byte for byte.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import re
import textwrap
from collections.abc import Mapping
from functools import cache
from typing import Any

from ..pack import Backend, BackendClass

__all__ = ["DENIED_METHODS", "ERROR_PREFIX", "TRUSTED_MODULE_PREFIXES", "BackendInstances",
           "BackendUnavailable", "UntrustedBackendError", "fresh_defaults", "is_json_data",
           "load_class", "render_result"]

#: The only modules a pack's backend may name (dotted prefixes, each ending with ``.``).
TRUSTED_MODULE_PREFIXES = ("bfcl_eval.eval_checker.multi_turn_eval.func_source_code.",)
#: Method names BFCL refuses to run (its deny list); kept so results match its own.
DENIED_METHODS = frozenset({"kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run"})
#: How BFCL renders a call that raised.
ERROR_PREFIX = "Error during execution: "
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_INSTALL_HINT = 'python -m pip install --no-deps "bfcl-eval==2026.3.23" mpmath'


class UntrustedBackendError(ValueError):
    """A pack names a backend module or class outside the allowlist."""


class BackendUnavailable(ImportError):
    """A trusted backend module cannot be imported (its package is not installed)."""


def load_class(spec: BackendClass) -> type:
    """Import a backend class, refusing anything outside the allowlist.

    Args:
        spec: The class's module and name, from the pack.

    Returns:
        The class.

    Raises:
        UntrustedBackendError: When the module is not under
            :data:`TRUSTED_MODULE_PREFIXES`, the name is private or not a
            class defined in that module.
        BackendUnavailable: When the module cannot be imported.
    """
    module_name, class_name = spec.module, spec.name
    if not isinstance(module_name, str) or not _MODULE.match(module_name) or not any(
            module_name.startswith(prefix) and len(module_name) > len(prefix)
            for prefix in TRUSTED_MODULE_PREFIXES):
        raise UntrustedBackendError(
            f"backend module {module_name!r} is not trusted: only modules under "
            f"{', '.join(TRUSTED_MODULE_PREFIXES)} may run as tool backends")
    if not isinstance(class_name, str) or not _IDENTIFIER.match(class_name):
        raise UntrustedBackendError(f"backend class name {class_name!r} is not a public name")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(
            f"cannot import the backend module {module_name!r} ({exc}); install BFCL's "
            f"package without its heavy dependencies: {_INSTALL_HINT}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or cls.__module__ != module_name:
        raise UntrustedBackendError(
            f"{module_name}.{class_name} is not a class defined in that module")
    return cls


def is_json_data(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is plain JSON data (what a parsed tool call may carry).

    Args:
        value: The value.
        depth: Nesting so far (values nested deeper than 64 levels are refused).

    Returns:
        True for None, bool, int, float, str, and lists and str-keyed dicts of them.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if depth > 64:
        return False
    if type(value) is list:
        return all(is_json_data(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(isinstance(key, str) and is_json_data(item, depth + 1)
                   for key, item in value.items())
    return False


def render_result(value: Any) -> str:
    """Render a method's return value as BFCL does (str as is, dict as JSON, else ``str``).

    Args:
        value: What the method returned.

    Returns:
        The result text the agent sees and the checker compares.
    """
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except (TypeError, ValueError):  # e.g. an object inside: BFCL falls back to str
            return str(value)
    return str(value)


@cache
def fresh_defaults(cls: type, name: str) -> tuple[tuple[str, Any], ...]:
    """The mutable defaults of a method, as written in its source (never the live objects).

    BFCL's ``post_tweet(content, tags=[], mentions=[])`` keeps the default list in
    the tweet, and ``mention`` then extends it: the shared default changes, and
    every later call in the process sees the mentions of an earlier episode. The
    dispatcher passes a new copy of the written default instead.

    Args:
        cls: The backend class.
        name: A public method name.

    Returns:
        ``(parameter, default)`` pairs for every list, dict or set default.
    """
    function = getattr(cls, name)
    mutable = [parameter.name for parameter in inspect.signature(function).parameters.values()
               if isinstance(parameter.default, list | dict | set)]
    if not mutable:
        return ()
    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    assert isinstance(node, ast.FunctionDef)
    positional = [*node.args.posonlyargs, *node.args.args]
    written = dict(zip([arg.arg for arg in positional[len(positional) - len(node.args.defaults):]],
                       node.args.defaults, strict=True))
    written.update({arg.arg: default for arg, default in
                    zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
                    if default is not None})
    return tuple((parameter, ast.literal_eval(written[parameter])) for parameter in mutable)


class BackendInstances:
    """Fresh instances of a backend's classes and a dispatcher over their public methods.

    Args:
        backend: The task's backend.

    Raises:
        UntrustedBackendError: For a module or class outside the allowlist.
        BackendUnavailable: When a backend module is not installed.
    """

    def __init__(self, backend: Backend) -> None:
        self.instances: dict[str, Any] = {}
        self._owner: dict[str, str] = {}
        for spec in backend.classes:
            cls = load_class(spec)
            instance = cls()
            if spec.config is not None:  # parsed afresh: every instance owns its state
                instance._load_scenario(json.loads(spec.config),
                                        long_context=backend.long_context)
            self.instances[spec.name] = instance
            for name, _ in inspect.getmembers(cls, inspect.isfunction):
                if not name.startswith("_"):
                    self._owner[name] = spec.name  # a later class wins, as in BFCL

    @property
    def methods(self) -> Mapping[str, str]:
        """Public method name -> the class it dispatches to."""
        return self._owner

    def call(self, name: str, arguments: Mapping[str, Any]) -> tuple[bool, str]:
        """Run one method call.

        Args:
            name: A public method name of one of the classes.
            arguments: Keyword arguments, JSON data.

        Returns:
            ``(ok, text)``: ``ok`` is False when the method raised (the text is
            then BFCL's ``Error during execution: ...``) or the call was refused.
        """
        if not isinstance(name, str) or name.startswith("_") or name not in self._owner:
            return False, f"{ERROR_PREFIX}name {name!r} is not a method of this backend"
        if name in DENIED_METHODS:
            return False, f"{ERROR_PREFIX}Function call {name} is not allowed."
        if type(arguments) is not dict or not is_json_data(arguments):
            return False, f"{ERROR_PREFIX}arguments must be a JSON object"
        instance = self.instances[self._owner[name]]
        method = getattr(instance, name)
        # A copy: methods may keep or change what they are given, and the caller's
        # arguments may be a task's shared gold call. Mutable defaults come fresh too.
        arguments = copy.deepcopy(arguments)
        for parameter, default in fresh_defaults(type(instance), name):
            if parameter not in arguments:
                arguments[parameter] = copy.deepcopy(default)
        try:
            value = method(**arguments)
        except Exception as exc:  # the library's own error, rendered as BFCL renders it
            return False, f"{ERROR_PREFIX}{exc}"
        return True, render_result(value)

    def state_mismatch(self, reference: BackendInstances) -> str | None:
        """Compare public state with ``reference`` exactly as BFCL's ``state_checker`` does.

        Args:
            reference: Instances of the same backend (the ground truth's replay).

        Returns:
            None when every public attribute of every reference instance is equal
            here, else ``"<Class>.<attribute>"`` of the first difference.
        """
        for class_name, truth in reference.instances.items():
            mine = self.instances[class_name]
            for attribute in vars(truth):
                if attribute.startswith("_"):
                    continue
                if getattr(mine, attribute) != getattr(truth, attribute):
                    return f"{class_name}.{attribute}"
        return None
