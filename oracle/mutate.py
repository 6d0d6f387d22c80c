"""Small random edits of known inputs (examples, agent queries), driven by a seeded Random.

One edit changes one value somewhere inside one argument: an integer moves by one, flips
sign or becomes zero; a string loses, gains or swaps a character; a list loses, duplicates or
reorders an element; a dict loses a key; and containers recurse into a random element.
"""

from __future__ import annotations

import random
from typing import Any


def mutate_args(args: tuple[Any, ...], rng: random.Random) -> tuple[Any, ...]:
    """``args`` with one random edit in one random argument (unchanged when there are none)."""
    if not args:
        return args
    i = rng.randrange(len(args))
    out = list(args)
    out[i] = mutate_value(args[i], rng)
    return tuple(out)


def mutate_value(value: Any, rng: random.Random, depth: int = 0) -> Any:
    t = type(value)
    if t is bool:
        return not value
    if t is int:
        return rng.choice([value + 1, value - 1, -value, 0, value * 2, value // 2])
    if t is float:
        return rng.choice([value + 1.0, value - 1.0, -value, 0.0, value * 2, value / 2])
    if t is str:
        return _edit_sequence(value, rng, depth, lambda s: "".join(s), _new_char(value, rng))
    if t is bytes:
        return _edit_sequence(value, rng, depth, bytes, rng.randrange(256))
    if t is list:
        return _edit_sequence(value, rng, depth, list, None)
    if t is tuple:
        if not value or depth > 10:
            return value
        i = rng.randrange(len(value))
        return value[:i] + (mutate_value(value[i], rng, depth + 1),) + value[i + 1 :]
    if t in (set, frozenset):
        if not value:
            return value
        items = sorted(value, key=repr)
        items.pop(rng.randrange(len(items)))
        return t(items)
    if t is dict:
        if not value:
            return value
        keys = list(value)
        k = keys[rng.randrange(len(keys))]
        out = dict(value)
        if rng.random() < 0.5:
            del out[k]
        else:
            out[k] = mutate_value(out[k], rng, depth + 1)
        return out
    return value


def _new_char(text: str, rng: random.Random) -> str:
    return rng.choice(text) if text else "a"


def _edit_sequence(seq: Any, rng: random.Random, depth: int, build: Any, filler: Any) -> Any:
    items = list(seq)
    ops = ["insert", "empty"]
    if items:
        ops += ["delete", "duplicate", "reverse", "swap"]
        if type(seq) is list and depth < 10:
            ops.append("recurse")
    op = rng.choice(ops)
    if op == "insert":
        fill = filler if filler is not None else (rng.choice(items) if items else 0)
        items.insert(rng.randrange(len(items) + 1), fill)
    elif op == "empty":
        items = []
    elif op == "delete":
        items.pop(rng.randrange(len(items)))
    elif op == "duplicate":
        i = rng.randrange(len(items))
        items.insert(i, items[i])
    elif op == "reverse":
        items.reverse()
    elif op == "swap":
        i, j = rng.randrange(len(items)), rng.randrange(len(items))
        items[i], items[j] = items[j], items[i]
    else:
        i = rng.randrange(len(items))
        items[i] = mutate_value(items[i], rng, depth + 1)
    return build(items)
