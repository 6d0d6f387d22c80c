"""``results.jsonl``: one line per finished episode, appended and fsynced as each one ends.

The file is the run's ground truth. A run killed at any point (even by SIGKILL) leaves every
finished episode in it, plus at most one torn line, which :meth:`ResultsFile.load` cuts off
before the run continues; so a resumed run neither redoes nor loses an episode.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from codearc_env.agents.episode import EpisodeResult

from codearc_env.errors import CodeARCError


class ResultsFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self, *, repair: bool = False) -> dict[str, EpisodeResult]:
        """Finished episodes by problem id (the first line wins if an id repeats).

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
        out: dict[str, EpisodeResult] = {}
        for lineno, line in enumerate(complete.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                result = EpisodeResult.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise CodeARCError(f"{self.path}:{lineno}: not a result line ({exc})") from None
            out.setdefault(result.problem_id, result)
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
                        fh.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            return len(gone)

    def append(self, result: EpisodeResult) -> None:
        line = json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
