"""The settings of a run that can change its results, pinned in ``run.json``.

A run folder may be continued (``--resume``) only under the settings its earlier episodes
ran under; otherwise its results would mix two experiments without saying so. Every
setting that can change an episode's outcome is recorded, hashed, and compared on resume.
A mismatch is refused with one line per changed setting; ``force`` continues anyway and
appends the change to the record's history, and every result line carries the hash of the
settings it ran under (``run_settings_hash``), so mixed runs stay separable.

Settings are put in one canonical form before hashing: JSON data only, whole floats as
integers (``1.0`` and ``1`` are one temperature), the problem list sorted. How much of the
run to play (``limit``, ``samples``) is its *scope*, not a setting: more problems or samples
under the same settings are more of the same experiment, so a resume may change the scope
without ``force`` (recorded in the history). The package version is recorded too; a resume
under another version is noted in the history, not refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codearc_env import __version__
from codearc_env.errors import CodeARCError, UsageError

RECORD_VERSION = 3
SCOPE = ("limit", "samples")
"""How much of the run to play: recorded, changeable on resume without ``force``."""
SORTED_LISTS = ("problems",)
"""Settings whose order does not matter."""

log = logging.getLogger(__name__)


class RunDirError(CodeARCError):
    """The output directory holds another run, or a run that --resume would not match."""


class SettingsMismatchError(RunDirError):
    """``--resume`` with settings other than those the run was started with."""


class EvalConfigError(UsageError, ValueError):
    """An evaluation's configuration names something invalid (exit code 2 on the command
    line). Also a ValueError, as Python callers of ``evaluate`` caught before."""


def canonical(value: Any, where: str = "settings") -> Any:
    """``value`` as canonical JSON data: whole floats become ints, mappings get str keys.
    Raises :class:`EvalConfigError` for anything JSON cannot hold as it is."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EvalConfigError(f"{where}: {value!r} is not a JSON number")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EvalConfigError(f"{where}: key {key!r} is not a string")
            out[key] = canonical(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise EvalConfigError(
        f"{where}: a value of type {type(value).__name__} is not JSON data (use strings, numbers, "
        "booleans, null, lists and objects)"
    )


def canonical_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that are hashed and compared: canonical, without the scope."""
    out = {k: canonical(v, k) for k, v in settings.items() if k not in SCOPE}
    for name in SORTED_LISTS:
        if isinstance(out.get(name), list):
            out[name] = sorted(out[name], key=lambda x: json.dumps(x, sort_keys=True))
    return out


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short, stable digest of the canonical ``settings`` (key order, whole floats, the
    problem list's order and the scope do not matter)."""
    text = json.dumps(
        canonical_settings(settings), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def settings_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{name: [old, new]}`` for every setting that differs (a missing one reads as None)."""
    names = sorted(set(before) | set(after))
    return {n: [before.get(n), after.get(n)] for n in names if before.get(n) != after.get(n)}


def describe_diff(diff: Mapping[str, list[Any]]) -> str:
    return "\n".join(f"  {name}: {old!r} -> {new!r}" for name, (old, new) in diff.items())


def _recorded_settings(record: Mapping[str, Any]) -> dict[str, Any]:
    if "settings" in record:
        return canonical_settings(record["settings"])
    # A record written before settings were pinned: the flat configuration, minus what
    # never changed a result.
    skip = {"out_dir", "concurrency", "max_attempts", "retry_wait_s", "backend", "data_dir"}
    return canonical_settings({k: v for k, v in record.items() if k not in skip})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pin_settings(
    run_json: Path,
    settings: Mapping[str, Any],
    operational: Mapping[str, Any],
    *,
    resume: bool,
    force: bool,
) -> str:
    """Write or check ``run_json``; return the hash the new results will carry.

    Raises :class:`SettingsMismatchError` when resuming under other settings without
    ``force``. The first settings, every forced change, every change of scope and of
    package version stay in ``history``.
    """
    compared = canonical_settings(settings)
    scope = {k: canonical(settings.get(k), k) for k in SCOPE}
    current = settings_hash(settings)
    history: list[dict[str, Any]] = []
    if resume and run_json.exists():
        record = json.loads(run_json.read_text(encoding="utf-8"))
        before = _recorded_settings(record)
        history = list(record.get("history") or [])
        if "settings" not in record:  # an older record: compare what it did record
            diff = settings_diff(before, {k: compared.get(k) for k in before if k in compared})
            diff = {k: v for k, v in diff.items() if k in compared}
        else:
            diff = settings_diff(before, compared)
        old_scope = record.get("scope") or {
            k: record.get("settings", {}).get(k) for k in SCOPE if k in record.get("settings", {})
        }
        scope_diff = settings_diff(old_scope, scope) if old_scope else {}
        if scope_diff:
            history.append({"at": _now(), "scope": scope_diff})
        old_version = record.get("package_version")
        if old_version and old_version != __version__:
            note = f"run started under codearc-env {old_version}, resumed under {__version__}"
            log.warning("%s: %s", run_json, note)
            history.append({"at": _now(), "note": note})
        if diff and not force:
            raise SettingsMismatchError(
                f"--resume with settings other than those recorded in {run_json}:\n"
                f"{describe_diff(diff)}\n"
                "Use the recorded settings, choose another --out, or pass --force to continue "
                "under the new settings (the change is recorded and each result line keeps "
                "the hash of its settings)."
            )
        if diff:
            history.append(
                {
                    "at": _now(),
                    "forced": True,
                    "from_hash": settings_hash(before),
                    "to_hash": current,
                    "changed": diff,
                }
            )
    if not history:
        history.append({"at": _now(), "to_hash": current})
    record = {
        "version": RECORD_VERSION,
        "package_version": __version__,
        "settings": compared,
        "scope": scope,
        "run_settings_hash": current,
        "history": history,
        **{k: v for k, v in operational.items() if k not in ("settings", "history")},
    }
    tmp = run_json.with_name(run_json.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(run_json)
    return current
