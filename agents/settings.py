"""The settings of a run that can change its results, pinned in ``run.json``.

A run folder may be continued (``--resume``) only under the settings its earlier episodes
ran under; otherwise its results would mix two experiments without saying so. Every
setting that can change an episode's outcome is recorded, hashed, and compared on resume.
A mismatch is refused with one line per changed setting; ``force`` continues anyway and
appends the change to the record's history, and every result line carries the hash of the
settings it ran under, so mixed runs stay separable.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codearc_env.errors import CodeARCError

RECORD_VERSION = 2


class RunDirError(CodeARCError):
    """The output directory holds another run, or a run that --resume would not match."""


class SettingsMismatchError(RunDirError):
    """``--resume`` with settings other than those the run was started with."""


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short, stable digest of ``settings`` (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def settings_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{name: [old, new]}`` for every setting that differs (a missing one reads as None)."""
    names = sorted(set(before) | set(after))
    return {n: [before.get(n), after.get(n)] for n in names if before.get(n) != after.get(n)}


def describe_diff(diff: Mapping[str, list[Any]]) -> str:
    return "\n".join(f"  {name}: {old!r} -> {new!r}" for name, (old, new) in diff.items())


def _recorded_settings(record: Mapping[str, Any]) -> dict[str, Any]:
    if "settings" in record:
        return dict(record["settings"])
    # A record written before settings were pinned: the flat configuration, minus what
    # never changed a result.
    skip = {"out_dir", "concurrency", "max_attempts", "retry_wait_s", "backend", "data_dir"}
    return {k: v for k, v in record.items() if k not in skip}


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
    ``force``. The first settings and every forced change stay in ``history``.
    """
    current = settings_hash(settings)
    history: list[dict[str, Any]] = []
    if resume and run_json.exists():
        record = json.loads(run_json.read_text(encoding="utf-8"))
        before = _recorded_settings(record)
        history = list(record.get("history") or [])
        if "settings" not in record:  # an older record: compare what it did record
            diff = settings_diff(before, {k: settings.get(k) for k in before if k in settings})
            diff = {k: v for k, v in diff.items() if k in settings}
        else:
            diff = settings_diff(before, settings)
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
                    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "forced": True,
                    "from_hash": settings_hash(before),
                    "to_hash": current,
                    "changed": diff,
                }
            )
    if not history:
        history.append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "to_hash": current}
        )
    record = {
        "version": RECORD_VERSION,
        "settings": dict(settings),
        "settings_hash": current,
        "history": history,
        **{k: v for k, v in operational.items() if k not in ("settings", "history")},
    }
    tmp = run_json.with_name(run_json.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(run_json)
    return current
