"""Run an agent over many problems with worker threads, resumably.

Layout of a run directory::

    run.json        the pinned settings (see :mod:`codearc_env.agents.settings`)
    results.jsonl   one line per finished episode (see :mod:`codearc_env.agents.results`)
    traces/         one trace file per problem and sample (all attempts of it)
    summary.json    written at the end

Each worker thread owns its environments (and so its sandboxes). API and infrastructure
failures are retried up to ``max_attempts`` times with a pause, then recorded with their
status: never dropped, never counted as wrong answers. A :class:`FatalModelError` (bad key,
unknown model) stops every worker and is raised: nothing is recorded for the episodes in
flight, so the run resumes cleanly once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codearc_env import trace as tr
from codearc_env.agents.episode import MAX_INVALID_IN_A_ROW, Agent, EpisodeResult, run_episode
from codearc_env.agents.results import ResultsFile
from codearc_env.agents.settings import RunDirError, pin_settings

__all__ = [
    "PlayOptions", "RunDirError", "RunPlan", "Task", "prepare_run_dir", "run_tasks", "all_results",
    "trace_name", "trace_path", "with_trace",
]

RETRYABLE = ("api_error", "infra_error")
ERRORS = ("api_error", "infra_error", "agent_error")


@dataclass(frozen=True)
class Task:
    problem_id: str
    variant: str
    sample: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem_id, self.sample)


@dataclass
class Progress:
    """Live counts, read by the progress display (updated under the runner's lock)."""

    total: int = 0
    done: int = 0
    solved: int = 0
    graded: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, result: EpisodeResult) -> None:
        self.done += 1
        if result.graded:
            self.graded += 1
            self.solved += int(result.success)
        else:
            self.errors[result.status] = self.errors.get(result.status, 0) + 1

    def describe(self) -> str:
        rate = f"{100.0 * self.solved / self.graded:.1f}%" if self.graded else "-"
        text = f"solved {self.solved}/{self.graded} ({rate})"
        for status, n in sorted(self.errors.items()):
            text += f" {status} {n}"
        return text


@dataclass(frozen=True)
class PlayOptions:
    """How each episode of a run is played and retried, wherever it runs."""

    model_name: str = ""
    max_attempts: int = 3
    retry_wait_s: float = 5.0
    run_settings_hash: str = ""
    max_invalid_in_a_row: int | None = MAX_INVALID_IN_A_ROW
    episode_time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    def attempt(
        self, agent: Agent, env: Any, task: Task, writer: Any, attempt: int,
        replied: threading.Event,
    ) -> EpisodeResult:
        """Attempt number ``attempt`` at ``task``'s episode, written to ``writer``."""
        return run_episode(
            agent,
            env,
            task.problem_id,
            model_name=self.model_name,
            writer=writer,
            attempt=attempt,
            sample=task.sample,
            run_settings_hash=self.run_settings_hash,
            max_invalid_in_a_row=self.max_invalid_in_a_row,
            run_replied=replied,
            time_limit_s=self.episode_time_limit_s,
        )

    def play(
        self,
        task: Task,
        make_agent: Callable[[Task], Agent],
        env_for: Callable[[str], Any],
        drop_env: Callable[[str], None],
        writer_for: Callable[[int], contextlib.AbstractContextManager[Any]],
        replied: threading.Event,
        wait: Callable[[float], Any],
        stop: threading.Event | None = None,
    ) -> EpisodeResult:
        """Every attempt ``task`` needs: API and infrastructure errors are tried again, up to
        ``max_attempts``, after a doubling pause (``wait``), and an infrastructure error first
        drops the variant's environment (``drop_env``), so the next attempt starts from fresh
        sandboxes. ``writer_for(attempt)`` gives each attempt's trace writer."""
        result: EpisodeResult | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                wait(self.retry_wait_s * 2 ** (attempt - 2))
            env = env_for(task.variant)
            with writer_for(attempt) as writer:
                result = self.attempt(make_agent(task), env, task, writer, attempt, replied)
            if result.status not in RETRYABLE or (stop is not None and stop.is_set()):
                break
            if result.status == "infra_error":
                drop_env(task.variant)
        if result is None:  # unreachable: max_attempts >= 1
            raise RuntimeError("no attempt was made")
        return result


@dataclass(frozen=True)
class RunPlan:
    """What an executor (:func:`run_tasks`, or ``run_on_ray`` for ``--ray``) plays a run's
    tasks with. ``make_env(variant)`` is called once per worker and variant."""

    make_env: Callable[[str], Any]
    make_agent: Callable[[Task], Agent]
    results: ResultsFile
    traces_dir: Path
    options: PlayOptions = PlayOptions()
    concurrency: int = 1
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")

    def recorded(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[EpisodeResult | None, Progress], None] | None,
    ) -> tuple[dict[tuple[str, int], EpisodeResult], Progress]:
        """The results already recorded, by task key, and the progress that counts them
        (reported once to ``on_result`` with None)."""
        done = self.results.load()
        progress = Progress(total=len(tasks))
        for task in tasks:
            if task.key in done:
                progress.add(done[task.key])
        if on_result is not None:
            on_result(None, progress)
        return done, progress


def trace_name(problem_id: str, sample: int = 0) -> str:
    stem = problem_id.replace("/", "__").replace("+", "plus")
    return f"{stem}.jsonl" if sample == 0 else f"{stem}.s{sample}.jsonl"


def trace_path(traces_dir: Path, task: Task) -> Path:
    """Where ``task``'s trace (all its attempts) is written."""
    return traces_dir / trace_name(task.problem_id, task.sample)


def with_trace(task: Task, data: dict[str, Any], traces_dir: Path) -> EpisodeResult:
    """The result ``data`` of ``task``, pointing at its trace (relative to the run folder)."""
    rel = trace_path(traces_dir, task).relative_to(traces_dir.parent).as_posix()
    return EpisodeResult.from_dict({**data, "trace": rel})


def prepare_run_dir(
    out_dir: Path,
    settings: dict[str, Any],
    resume: bool,
    retry_errors: bool = False,
    *,
    operational: dict[str, Any] | None = None,
    force: bool = False,
) -> tuple[ResultsFile, str]:
    """Create or reopen ``out_dir``; refuse to mix runs; return the results file and the
    settings hash new results carry. With ``retry_errors`` (resume only), episodes recorded
    as API, infra or agent errors are removed so that they run again."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "traces").mkdir(exist_ok=True)
    results = ResultsFile(out_dir / "results.jsonl")
    run_json = out_dir / "run.json"
    existing = results.load()
    if not resume and (existing or run_json.exists()):
        raise RunDirError(
            f"{out_dir} already holds a run ({len(existing)} results); pass --resume to "
            "continue it, or choose another --out"
        )
    # Settings first: a refused resume leaves the folder exactly as it was.
    digest = pin_settings(run_json, settings, operational or {}, resume=resume, force=force)
    if resume:
        results.load(repair=True)
    if retry_errors and resume:
        results.drop(ERRORS)
    return results, digest


def run_tasks(
    tasks: Sequence[Task],
    plan: RunPlan,
    on_result: Callable[[EpisodeResult | None, Progress], None] | None = None,
) -> list[EpisodeResult]:
    """Play every task not already in ``plan.results`` with ``plan.concurrency`` worker
    threads; return the results of this call.

    ``on_result`` is called once at the start with None (to show resumed counts), then
    (under a lock) after each result is on disk. On KeyboardInterrupt the environments are
    closed and the episodes in flight are not recorded: a resumed run plays them again.
    """
    done, progress = plan.recorded(tasks, on_result)
    opts, results, stop = plan.options, plan.results, plan.stop
    todo: queue.Queue[Task] = queue.Queue()
    for task in tasks:
        if task.key not in done:
            todo.put(task)
    lock = threading.Lock()
    new: list[EpisodeResult] = []
    failures: list[BaseException] = []
    live_envs: list[Any] = []
    model_replied = threading.Event()  # a rejected request is fatal only before this is set

    def play(task: Task, envs: dict[str, Any]) -> EpisodeResult:
        path = trace_path(plan.traces_dir, task)

        def env_for(variant: str) -> Any:
            if variant not in envs:
                envs[variant] = plan.make_env(variant)
                with lock:
                    live_envs.append(envs[variant])
            return envs[variant]

        result = opts.play(
            task,
            plan.make_agent,
            env_for,
            lambda variant: _close_quietly(envs.pop(variant)),
            lambda attempt: tr.TraceWriter(path, mode="w" if attempt == 1 else "a"),
            model_replied,
            stop.wait,
            stop,
        )
        return with_trace(task, result.to_dict(), plan.traces_dir)

    def worker() -> None:
        envs: dict[str, Any] = {}
        try:
            while not stop.is_set():
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                result = play(task, envs)
                with lock:
                    if stop.is_set():  # interrupted: this episode may have been cut short
                        return
                    results.append(result)
                    new.append(result)
                    progress.add(result)
                    if on_result is not None:
                        on_result(result, progress)
        except BaseException as exc:  # surfaced by the main thread
            failures.append(exc)
            stop.set()
        finally:
            for env in envs.values():
                _close_quietly(env)

    threads = [
        threading.Thread(target=worker, name=f"codearc-worker-{i}", daemon=True)
        for i in range(min(plan.concurrency, max(1, todo.qsize())))
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)
    except KeyboardInterrupt:
        stop.set()
        with lock:
            envs_to_close = list(live_envs)
        for env in envs_to_close:  # stops the sandboxes under the episodes in flight
            _close_quietly(env)
        for t in threads:
            t.join(timeout=5.0)
        raise
    if failures:
        raise failures[0]
    return new


def _close_quietly(env: Any) -> None:
    # Closing must not hide the result that got us here.
    with contextlib.suppress(Exception):
        env.close()


def all_results(results: ResultsFile, tasks: Iterable[Task]) -> list[EpisodeResult]:
    """The recorded results of ``tasks``, in task order."""
    done = results.load()
    return [done[t.key] for t in tasks if t.key in done]
