"""Which episodes a run plays: the problems picked, their order, and the samples of each."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path


def read_problem_ids(spec: str) -> tuple[str, ...]:
    """Problem ids from ``--problems``: a file of ids (one per line, ``#`` comments), or ids
    separated by commas or spaces."""
    path = Path(spec)
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        text = " ".join(line.split("#", 1)[0] for line in lines)
    else:
        text = spec
    ids = tuple(token for token in text.replace(",", " ").split() if token)
    if not ids:
        raise ValueError(f"--problems {spec!r} names no problem")
    return ids


def _matches(problem_id: str, wanted: str, variant: str) -> bool:
    # "annotated/12" names one problem; a bare "12" or "clamp_int" names it in every variant.
    return problem_id == wanted or problem_id in (
        f"{variant}/{wanted}",
        f"builtin/{variant}/{wanted}",
    )


def select_ids(
    split_ids: Sequence[str], variant: str, wanted: Iterable[str]
) -> tuple[list[str], set[str]]:
    """The ids of ``split_ids`` that ``wanted`` names (in split order), and the wanted names
    that matched nothing here."""
    wanted = list(wanted)
    hits = {w: [pid for pid in split_ids if _matches(pid, w, variant)] for w in wanted}
    chosen = {pid for found in hits.values() for pid in found}
    return [pid for pid in split_ids if pid in chosen], {
        w for w, found in hits.items() if not found
    }


def play_order(ids: Sequence[str], seed: int | None, variant: str) -> list[str]:
    """``ids`` in the split's order, or shuffled by ``seed`` (the same seed, the same order)."""
    out = list(ids)
    if seed is not None:
        random.Random(f"{seed}/{variant}").shuffle(out)
    return out
