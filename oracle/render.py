"""Render an encoded value for people: a repr-like text that shows types a plain ``str()`` hides.

Used when the reference's and the candidate's ``str()`` are identical although the values
differ (``True`` vs ``1``, ``Counter`` vs ``dict``, two objects whose attributes differ), so a
counterexample always shows a difference the agent can see.
"""

from __future__ import annotations

from typing import Any

MAX_RENDER_CHARS = 2000


def render(tree: object) -> str:
    """A repr-like rendering of an encoded tree, capped at ``MAX_RENDER_CHARS``."""
    text = _render(tree, 0)
    return text if len(text) <= MAX_RENDER_CHARS else text[: MAX_RENDER_CHARS - 3] + "..."


def type_name(tree: object) -> str:
    """The Python type of an encoded value, as a user would name it."""
    if not isinstance(tree, dict):
        return "?"
    recorded = tree.get("type")
    if isinstance(recorded, str):
        return _short(recorded)
    return {"none": "NoneType"}.get(str(tree.get("t")), str(tree.get("t")))


def _short(qualified: str) -> str:
    """``collections.Counter`` stays; the sandbox's module prefix and scopes go."""
    name = qualified.replace(".<locals>", "")
    for prefix in ("__codearc__.", "builtins."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def _render(tree: object, depth: int) -> str:
    if not isinstance(tree, dict) or depth > 20:
        return "..."
    t = tree.get("t")
    v: Any = tree.get("v")
    d = depth + 1
    if t == "none":
        return "None"
    if t == "bool":
        text = str(bool(v))
    elif t in ("int", "float"):
        text = str(v)
    elif t == "complex":
        text = f"complex({v[0]}, {v[1]})"
    elif t == "str":
        text = repr(v)
    elif t == "bytes":
        text = repr(bytes.fromhex(v)) if isinstance(v, str) else "b'?'"
    elif t in ("list", "tuple", "set", "frozenset", "iter"):
        text = _sequence(t, tree, [_render(x, d) for x in v])
    elif t == "dict":
        text = "{" + ", ".join(f"{_render(k, d)}: {_render(x, d)}" for k, x in v) + "}"
    else:  # opaque
        text = str(v)
    recorded = tree.get("type")
    if isinstance(recorded, str) and t not in ("opaque", "iter"):
        text = f"{_short(recorded)}({text})"
    attrs = tree.get("attrs")
    if attrs:
        text += " with " + ", ".join(f".{name}={_render(x, d)}" for name, x in attrs)
    return text


def _sequence(t: object, tree: dict, items: list[str]) -> str:
    body = ", ".join(items)
    if t == "list":
        return f"[{body}]"
    if t == "tuple":
        fields = tree.get("fields")
        if isinstance(fields, list) and len(fields) == len(items):
            return ", ".join(f"{f}={x}" for f, x in zip(fields, items, strict=True))
        return f"({body},)" if len(items) == 1 else f"({body})"
    if t == "iter":
        end = {"stop": "", "more": ", ..."}.get(str(tree.get("end")), f", then {tree.get('end')}")
        end = end.replace("raise:", "raises ")
        return f"<{_short(str(tree.get('type')))} yielding [{body}{end}]>"
    if not items:
        return "set()" if t == "set" else "frozenset()"
    return "{" + body + "}" if t == "set" else "frozenset({" + body + "})"
