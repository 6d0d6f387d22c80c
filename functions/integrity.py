"""Checksums of the data in a canonical form that both layouts reproduce.

The exact bytes of the upstream files are not known to us (we hold the JSON Lines copy), so
checksums are computed over what a loader reads, not over files:

- a module: sha256 of its text encoded as UTF-8 (read without newline translation);
- a variant's examples: sha256 of the canonical JSON of
  ``{"<index>": {"<k>": {"errored": bool, "input": str, "output": str}}}`` written with
  ``sort_keys=True, ensure_ascii=False, separators=(",", ":")``, encoded as UTF-8.

``functions/checksums.json`` holds these for the pinned commit. Regenerate it with
``python -m codearc_env.functions.integrity DATA_DIR > functions/checksums.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from codearc_env.errors import DataError
from codearc_env.functions.raw import RawProblem
from codearc_env.functions.spec import UPSTREAM_VARIANT_DIR, VARIANTS

UPSTREAM_REPO = "Anjiang-Wei/CodeARC"
UPSTREAM_COMMIT = "092edeeff38d019a130c8fbfdb055d39cba75bc8"
CHECKSUMS_FILE = "checksums.json"
FORMAT = "codearc-env canonical sha256 v1"


def module_digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def examples_digest(problems: Sequence[RawProblem]) -> str:
    """Digest of one variant's examples (pass that variant's problems only)."""
    table = {
        str(p.index): {
            str(ex.k): {"errored": ex.errored, "input": ex.input, "output": ex.output}
            for ex in p.examples
        }
        for p in problems
    }
    text = json.dumps(table, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compute(problems: Sequence[RawProblem]) -> dict[str, Any]:
    """The checksum document for a complete set of problems."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "repository": UPSTREAM_REPO,
        "commit": UPSTREAM_COMMIT,
        "modules": {},
        "examples": {},
    }
    for variant in VARIANTS:
        mine = sorted((p for p in problems if p.variant == variant), key=lambda p: p.index)
        doc["modules"][variant] = {str(p.index): module_digest(p.code) for p in mine}
        doc["examples"][variant] = examples_digest(mine)
    return doc


def shipped() -> dict[str, Any]:
    """The checksums the project ships for the pinned commit."""
    text = resources.files("codearc_env.functions").joinpath(CHECKSUMS_FILE).read_text("utf-8")
    return json.loads(text)


def check(problems: Sequence[RawProblem], expected: dict[str, Any] | None = None) -> None:
    """Raise DataError naming the first file whose content differs from the shipped checksums."""
    expected = expected if expected is not None else shipped()
    actual = compute(problems)
    for variant in VARIANTS:
        folder = UPSTREAM_VARIANT_DIR[variant]
        want_modules = expected["modules"][variant]
        for index, digest in actual["modules"][variant].items():
            if want_modules.get(index) != digest:
                raise DataError(
                    f"integrity check failed: dataset/{folder}/{index}.py does not match the "
                    f"shipped checksum (commit {expected['commit'][:12]})"
                )
        if set(want_modules) != set(actual["modules"][variant]):
            raise DataError(f"integrity check failed: the {variant} problem set differs")
        if actual["examples"][variant] != expected["examples"][variant]:
            raise DataError(
                f"integrity check failed: prompt_invocations/{folder}/.../invocations.json "
                "does not match the shipped checksum"
            )


def main(argv: list[str] | None = None) -> int:
    from codearc_env.functions.loaders import load_directory

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m codearc_env.functions.integrity DATA_DIR", file=sys.stderr)
        return 2
    doc = compute(load_directory(Path(args[0])))
    json.dump(doc, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
