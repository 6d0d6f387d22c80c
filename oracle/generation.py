"""What identifies the input generator, without importing it (or Hypothesis).

A check whose reference table is cached needs only the cache key and the strength presets,
so these live apart from :mod:`inputs`, whose import pulls in Hypothesis. The version is read
from the installed package's metadata, which names the same release as
``hypothesis.__version__`` (tested).
"""

from __future__ import annotations

from importlib.metadata import version

GENERATOR_VERSION = f"5/hypothesis-{version('hypothesis')}"
"""Part of every cache key; bump the leading number whenever :mod:`inputs` can generate
different inputs for the same seed and strength."""
STRENGTHS: dict[str, int] = {"fast": 100, "default": 300, "strong": 1000}
"""Target number of inputs per strength preset (known inputs included)."""


def strength_size(strength: str) -> int:
    if strength not in STRENGTHS:
        names = ", ".join(STRENGTHS)
        raise ValueError(f"unknown strength {strength!r}; choose one of {names}")
    return STRENGTHS[strength]
