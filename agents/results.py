"""Episode results and ``results.jsonl``: one line per finished episode, appended and fsynced
as each one ends.

The file is the run's ground truth. A run killed at any point (even by SIGKILL) leaves every
finished episode in it, plus at most one torn line, which :meth:`ResultsFile.load` cuts off
before the run continues; so a resumed run neither redoes nor loses an episode. Episodes are
keyed by (problem id, sample), so a run with several samples per problem resumes per sample.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codearc_env import trace as tr
from codearc_env.errors import CodeARCError

GRADED = ("success", "failure")


@dataclass(frozen=True)
class EpisodeResult(tr.EpisodeOutcome):
    """How one episode ended (the fields of its EpisodeEnd event) and what it was: one line
    of ``results.jsonl``."""

    problem_id: str
    agent: str = ""
    model: str = ""
    variant: str = ""
    source: str = ""
    index: int = -1
    quirks: tuple[str, ...] = ()
    invalid_replies: int = 0
    """Model replies the agent could not turn into an action."""
    attempts: int = 1
    sample: int = 0
    """Which of the run's samples of this problem (0 .. samples - 1)."""
    run_settings_hash: str = ""
    """Digest of the run settings this episode ran under (see ``run.json``)."""
    episode_id: str = ""
    trace: str = ""
    """Path of the trace file, relative to the run directory."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem_id, self.sample)

    @property
    def success(self) -> bool:
        return self.status == "success"

    @property
    def graded(self) -> bool:
        return self.status in GRADED

    def to_dict(self) -> dict[str, Any]:
        out = tr.jsonable(self)
        out["success"] = self.success
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpisodeResult:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if "run_settings_hash" not in kwargs and "settings_hash" in data:  # older lines
            kwargs["run_settings_hash"] = data["settings_hash"]
        kwargs["quirks"] = tuple(kwargs.get("quirks") or ())
        return cls(**kwargs)


def result_line(result: EpisodeResult) -> str:
    return tr.json_line(result.to_dict())


class ResultsFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self, *, repair: bool = False) -> dict[tuple[str, int], EpisodeResult]:
        """Finished episodes by (problem id, sample) (the first line wins if a key repeats).

        With ``repair``, a torn last line (no newline: the process died while writing it) is
        cut off so that appending continues on a line boundary.
        """
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if repair and len(complete) != len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(len(complete))
                fh.flush()
                os.fsync(fh.fileno())
        out: dict[tuple[str, int], EpisodeResult] = {}
        for lineno, line in enumerate(complete.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                result = EpisodeResult.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise CodeARCError(f"{self.path}:{lineno}: not a result line ({exc})") from None
            out.setdefault(result.key, result)
        return out

    def drop(self, statuses: tuple[str, ...]) -> int:
        """Remove the results with these statuses (atomically); return how many went."""
        with self._lock:
            kept = self.load(repair=True)
            gone = [r for r in kept.values() if r.status in statuses]
            if not gone:
                return 0
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                for result in kept.values():
                    if result.status not in statuses:
                        fh.write(result_line(result) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            return len(gone)

    def append(self, result: EpisodeResult) -> None:
        line = result_line(result) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
