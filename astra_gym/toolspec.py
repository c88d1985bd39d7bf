"""Static checks of a tool: is its JSON Schema valid, and does it agree with the code?

An agent builds its calls from the schema alone; the sandbox calls the
function with those arguments. When the two disagree (a required property the
function does not take, a parameter without default the schema never asks
for) the agent cannot succeed however well it reasons, and the env would
train it on noise. The compiler rejects such tools and the validator's
``schema_agreement`` check reports them; both use these functions.

The signature is read with :mod:`ast`: nothing in the tool runs.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

from .argcheck import schema_key

__all__ = ["FunctionSignature", "Parameter", "read_signature", "schema_problems",
           "signature_problems"]


@dataclass(frozen=True)
class Parameter:
    """One named parameter of a tool function."""

    name: str
    has_default: bool
    positional: bool  # may be passed by position
    keyword: bool  # may be passed by name


@dataclass(frozen=True)
class FunctionSignature:
    """The parameters of a tool function, read from source.

    Attributes:
        name: The function name.
        parameters: Named parameters in declaration order.
        var_positional: Whether it takes ``*args``.
        var_keyword: Whether it takes ``**kwargs`` (then any name is accepted).
    """

    name: str
    parameters: tuple[Parameter, ...]
    var_positional: bool = False
    var_keyword: bool = False

    @property
    def positional_names(self) -> tuple[str, ...]:
        """Names that a positional argument can bind to, in order."""
        return tuple(p.name for p in self.parameters if p.positional)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


def read_signature(source: str, function: str) -> FunctionSignature | None:
    """Read the signature of a top-level function from source text.

    Args:
        source: Python source.
        function: The function name.

    Returns:
        Its signature, or None when the source defines no such top-level
        function.

    Raises:
        SyntaxError: When the source does not parse.

    Example:
        >>> sig = read_signature("def f(a, b=1, *, c):\\n    pass", "f")
        >>> [(p.name, p.has_default) for p in sig.parameters]
        [('a', False), ('b', True), ('c', False)]
    """
    tree = ast.parse(source)
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            found = node  # the last definition wins, as at runtime
    if found is None:
        return None
    spec = found.args
    positional = [*spec.posonlyargs, *spec.args]
    first_default = len(positional) - len(spec.defaults)
    parameters = [
        Parameter(arg.arg, index >= first_default, True, index >= len(spec.posonlyargs))
        for index, arg in enumerate(positional)]
    parameters += [Parameter(arg.arg, default is not None, False, True)
                   for arg, default in zip(spec.kwonlyargs, spec.kw_defaults, strict=True)]
    return FunctionSignature(found.name, tuple(parameters), spec.vararg is not None,
                             spec.kwarg is not None)


@lru_cache(maxsize=4096)
def _metaschema_problems(key: str) -> tuple[str, ...]:
    """Checking a schema against the metaschema costs about 1 ms: once per distinct schema."""
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(key))
    except jsonschema.SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(top level)"
        return (f"parameters is not a valid JSON Schema at {where}: {exc.message}",)
    return ()


def schema_problems(parameters: Any) -> list[str]:
    """What is wrong with a tool's ``parameters`` JSON Schema.

    Args:
        parameters: The schema (OpenAI function ``parameters``).

    Returns:
        Readable problems; empty when the schema is a valid JSON Schema of
        type ``object`` whose ``required`` names are all declared properties.

    Example:
        >>> schema_problems({"type": "object", "properties": {}, "required": ["x"]})
        ["'required' lists 'x', which is not in 'properties'"]
    """
    if not isinstance(parameters, dict):
        return [f"parameters must be a JSON object, not {type(parameters).__name__}"]
    problems = list(_metaschema_problems(schema_key(parameters)))
    if parameters.get("type") != "object":
        problems.append(f"parameters must have type 'object', not {parameters.get('type')!r}")
    properties = parameters.get("properties", {})
    if not isinstance(properties, dict):
        return [*problems, "'properties' must be an object"]
    required = parameters.get("required", [])
    if isinstance(required, list):
        problems += [f"'required' lists {name!r}, which is not in 'properties'"
                     for name in required if isinstance(name, str) and name not in properties]
    return problems


def signature_problems(signature: FunctionSignature, parameters: dict[str, Any]) -> list[str]:
    """Where a function signature and its JSON Schema disagree.

    The rules: every schema property can be passed by name; every required
    property is a parameter; every parameter without a default is required
    by the schema (otherwise a schema-valid call can omit it and fail).

    Args:
        signature: From :func:`read_signature`.
        parameters: The tool's JSON Schema (assumed structurally valid).

    Returns:
        Readable problems; empty when they agree.

    Example:
        >>> sig = read_signature("def f(city, days=1):\\n    pass", "f")
        >>> signature_problems(sig, {"type": "object", "properties": {"days": {}}})
        ["parameter 'city' has no default but the schema does not require it"]
    """
    properties = parameters.get("properties", {}) or {}
    required = set(parameters.get("required", []) or [])
    problems = []
    for name in properties:
        param = signature.parameter(name)
        if param is None:
            if not signature.var_keyword:
                problems.append(f"schema property {name!r} is not a parameter of "
                                f"{signature.name}()")
        elif not param.keyword:
            problems.append(f"parameter {name!r} is positional-only, so it cannot be passed "
                            "by name as the schema does")
    for param in signature.parameters:
        if not param.has_default and param.name not in required:
            problems.append(f"parameter {param.name!r} has no default but the schema does not "
                            "require it")
    return problems
