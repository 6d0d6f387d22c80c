"""Prompt templates of the reference agents (``$name`` placeholders, see :func:`render`)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def _template(name: str) -> Template:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return Template(text)


def render(template: str, /, **values: object) -> str:
    """Fill ``template`` (a file in this folder); a missing value is an error."""
    try:
        return _template(template).substitute(**values).strip()
    except KeyError as exc:
        raise KeyError(f"template {template!r} needs a value for {exc.args[0]!r}") from None
