"""Reference tables on disk: one JSON file per table, named by its content key.

A file is trusted only when its cache version and key match what the caller asks for; a
corrupt or foreign file is recomputed, never used. Writes are atomic (a temporary file
renamed into place), so concurrent checks never read half a table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.reference import CACHE_VERSION, Expected, ReferenceTable
from codearc_env.sandbox.base import CallResult
from codearc_env.sandbox.codec import decode, encode


class ReferenceCache:
    """Reference tables in memory and, when a directory is given, as JSON files on disk."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, ReferenceTable] = {}

    def get(self, key: str) -> ReferenceTable | None:
        table = self._memory.get(key)
        if table is None and self.directory is not None:
            table = _read(self.directory / f"{key}.json", key)
            if table is not None:
                self._memory[key] = table
        return table

    def put(self, table: ReferenceTable) -> None:
        self._memory[table.key] = table
        if self.directory is not None:
            _write(self.directory / f"{table.key}.json", table)


def _read(path: Path, key: str) -> ReferenceTable | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("cache") != CACHE_VERSION or data.get("key") != key:
            return None
        expected = tuple(
            Expected(
                CallInput(
                    tuple(decode(e["args"])),
                    tuple(tuple(kv) for kv in decode(e["kwargs"])),
                    e["origin"],
                    e.get("expression"),
                ),
                tuple(CallResult(**r) for r in e["runs"]),
            )
            for e in data["expected"]
        )
        seq, fresh = (_results(data.get(name)) for name in ("sequence", "namespaced"))
        return ReferenceTable(key, expected, int(data["dropped"]), seq, fresh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a corrupt or foreign cache file is recomputed, never trusted


def _write(path: Path, table: ReferenceTable) -> None:
    data = {
        "cache": CACHE_VERSION,
        "key": table.key,
        "dropped": table.dropped,
        "expected": [
            {
                "args": encode(e.input.args),
                "kwargs": encode(tuple(e.input.kwargs)),
                "origin": e.input.origin,
                "expression": e.input.expression,
                "runs": [_result_dict(r) for r in e.runs],
            }
            for e in table.expected
        ],
        "sequence": _dicts(table.sequence),
        "namespaced": _dicts(table.namespaced),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)  # atomic: readers never see half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _results(rows: list | None) -> tuple[CallResult, ...] | None:
    return None if rows is None else tuple(CallResult(**r) for r in rows)


def _dicts(results: tuple[CallResult, ...] | None) -> list[dict] | None:
    return None if results is None else [_result_dict(r) for r in results]


def _result_dict(r: CallResult) -> dict:
    d = dataclasses.asdict(r)
    d["stdout"] = ""  # never needed for a verdict
    return d


def default_cache_dir() -> Path:
    """``$CODEARC_CACHE_DIR/oracle``, else ``$XDG_CACHE_HOME/codearc-env/oracle``, else
    ``~/.cache/codearc-env/oracle``."""
    root = os.environ.get("CODEARC_CACHE_DIR")
    if root:
        return Path(root) / "oracle"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "codearc-env" / "oracle"
