"""Wire an evaluation together: problems, environments, model, agent, runner and summary.

The command line (``codearc eval`` / ``codearc collect``) is a thin layer over
:func:`evaluate`; tests call it with injected model and environment factories.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codearc_env.agents.episode import MAX_INVALID_IN_A_ROW, Agent, EpisodeResult
from codearc_env.agents.factory import NEEDS_MODEL, make_agent
from codearc_env.agents.model import LiteLLMModel, Model
from codearc_env.agents.runner import (
    PlayOptions,
    Progress,
    RunPlan,
    Task,
    all_results,
    prepare_run_dir,
    run_tasks,
)
from codearc_env.agents.selection import play_order, select_ids
from codearc_env.agents.settings import EvalConfigError, canonical
from codearc_env.agents.summary import paper_setting_gaps, summarize
from codearc_env.config import DEFAULT_CONFIG, EnvConfig

VARIANT_CHOICES = ("annotated", "anonymized", "both")
LOCAL_MAX_TURNS = 6
"""Turn cap for ``local/...`` models when none is given: the embedded model runs on the
machine's own cores, where every turn of a growing conversation costs seconds
(docs/agents.md)."""
LOCAL_EPISODE_TIME_LIMIT_S = 60.0
"""Wall-clock limit of one episode of a ``local/...`` model when none is given: keeps a
smoke test of the embedded model to about a minute per episode on a busy machine."""
PY_PREFIX = "py:"


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how. Every field that can change a result is pinned in the run's
    ``run.json`` (:meth:`settings`); the others only say how the run is carried out."""

    out_dir: Path
    agent: str = "react"
    model: str = ""
    """litellm provider string (``openai/gpt-4o-mini``, ``local/smollm2``), or
    ``py:package.module:factory``: a function called with ``model_args`` as keyword
    arguments, once per episode, that returns a :class:`~codearc_env.agents.model.Model`."""
    variant: str = "annotated"
    """``annotated``, ``anonymized`` or ``both``."""
    split: str = "all"
    problems: tuple[str, ...] | None = None
    """Play only these problems of the split (``annotated/12``, or ``12`` in every variant)."""
    limit: int | None = None
    """First N problems of the split (after ``problems`` and the ``seed`` order), per variant."""
    seed: int | None = None
    """Shuffles the order problems are played in (so ``limit`` takes a random subset) and is
    sent to the model as its sampling seed (plus the sample number) where the provider
    takes one. None: split order, no model seed."""
    samples: int = 1
    """Episodes per problem; the summary gives pass@1 and pass@samples."""
    concurrency: int = 1
    resume: bool = False
    retry_errors: bool = False
    """With ``resume``: run again the episodes recorded as API, infra or agent errors."""
    force: bool = False
    """With ``resume``: continue under settings other than the recorded ones (recorded)."""
    backend: str | None = None
    pool_size: int | None = None
    """Sandboxes shared by all the run's environments (one pool); None: two per concurrent
    episode, at most 8 (:func:`codearc_env.vector.default_pool_size`); 0: no pool, each
    environment owns two sandboxes."""
    data_dir: str | None = None
    ray: str | None = None
    """Play the episodes on a Ray cluster: its address, or ``""`` for a cluster started on
    this machine for the run (:mod:`codearc_env.agents.ray_eval`); None: in this process."""
    env: EnvConfig | None = None
    """Budgets, turn cap and oracle settings of every episode; None:
    :func:`default_env_config` (the paper's setting; 6 turns for ``local/...`` models)."""
    max_invalid_in_a_row: int | None = MAX_INVALID_IN_A_ROW
    """Invalid actions in a row that end an episode as a failure (None: no limit)."""
    episode_time_limit_s: float | None = None
    """Seconds of wall-clock time after which an episode ends as a failure (checked between
    model replies and actions); None: 60 for ``local/...`` models, else no limit."""
    max_attempts: int = 3
    """Tries per episode when the API or the harness fails."""
    retry_wait_s: float = 5.0
    teacher: bool = False
    """Collect mode: the agent sees the hidden function in a privileged prefix."""
    force_tool_choice: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float = 180.0
    api_base: str | None = None
    model_args: Mapping[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for ``litellm.completion`` (``reasoning_effort``,
    ``extra_body``, ``mock_response``...) or for a ``py:`` factory."""

    @property
    def variants(self) -> tuple[str, ...]:
        return ("annotated", "anonymized") if self.variant == "both" else (self.variant,)

    @property
    def env_config(self) -> EnvConfig:
        """The episodes' :class:`EnvConfig`: ``env``, or the default for the model."""
        return self.env if self.env is not None else default_env_config(self.model)

    @property
    def turn_cap(self) -> int:
        return self.env_config.max_turns

    @property
    def time_cap(self) -> float | None:
        if self.episode_time_limit_s is not None:
            return self.episode_time_limit_s
        return LOCAL_EPISODE_TIME_LIMIT_S if self.model.startswith("local/") else None

    def settings(self) -> dict[str, Any]:
        """Every setting that can change an episode's outcome, as JSON data (the environment's
        under the same flat keys as before they were grouped in ``env``, so the hash of a
        run's settings is unchanged)."""
        return {
            "agent": self.agent,
            "model": self.model,
            "variants": list(self.variants),
            "split": self.split,
            "problems": list(self.problems) if self.problems is not None else None,
            "limit": self.limit,
            "seed": self.seed,
            "samples": self.samples,
            **self.env_config.outcome_settings(),
            "max_invalid_in_a_row": self.max_invalid_in_a_row,
            "episode_time_limit_s": self.time_cap,
            "teacher": self.teacher,
            "force_tool_choice": self.force_tool_choice,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout_s": self.timeout_s,
            "api_base": self.api_base,
            "model_args": canonical(dict(self.model_args), "model_args"),
        }

    def operational(self) -> dict[str, Any]:
        """How the run is carried out; recorded, not compared on resume."""
        return {
            "out_dir": str(self.out_dir),
            "concurrency": self.concurrency,
            "max_attempts": self.max_attempts,
            "backend": self.backend,
            "pool_size": self.pool_size,
            "data_dir": self.data_dir,
            "ray": self.ray,
        }


def default_env_config(model: str) -> EnvConfig:
    """The episodes' settings when none are given: the paper's, with a turn cap of
    :data:`LOCAL_MAX_TURNS` for ``local/...`` models."""
    if model.startswith("local/"):
        return DEFAULT_CONFIG.with_overrides(max_turns=LOCAL_MAX_TURNS)
    return DEFAULT_CONFIG


def load_tasks(config: EvalConfig) -> list[Task]:
    from codearc_env.problems import load_problems

    tasks = []
    unmatched: set[str] | None = None
    for variant in config.variants:
        ids = list(load_problems(variant, config.split, config.data_dir).ids)
        if config.problems is not None:
            ids, missing = select_ids(ids, variant, config.problems)
            unmatched = missing if unmatched is None else unmatched & missing
        ids = play_order(ids, config.seed, variant)
        if config.limit is not None:
            ids = ids[: config.limit]
        tasks += [Task(pid, variant, s) for pid in ids for s in range(config.samples)]
    if unmatched:
        raise EvalConfigError(
            f"--problems names problems not in split {config.split!r} of "
            f"{' or '.join(config.variants)}: {', '.join(sorted(unmatched))}"
        )
    return tasks


def make_pool(config: EvalConfig) -> Any:
    """The run's shared sandbox pool, or None when ``pool_size`` is 0."""
    from codearc_env.sandbox.pool import SandboxPool
    from codearc_env.vector import default_pool_size

    if config.pool_size == 0:
        return None
    if config.pool_size is not None and config.pool_size < 2:
        raise EvalConfigError(
            f"--pool-size must be 0 (no pool) or at least 2, got {config.pool_size}"
        )
    size = config.pool_size or default_pool_size(config.concurrency)
    return SandboxPool(size, config.backend)


def default_env_factory(config: EvalConfig, pool: Any = None) -> Callable[[str], Any]:
    """Makes one environment per variant; on ``pool`` when given (it then carries the
    backend)."""

    def make(variant: str) -> Any:
        from codearc_env.env import CodeARCEnv

        where: dict[str, Any] = {"pool": pool} if pool is not None else {"backend": config.backend}
        return CodeARCEnv(
            variant=variant,
            split=config.split,
            data_dir=config.data_dir,
            **where,
            config=config.env_config,
        )

    return make


def python_model_factory(spec: str) -> Callable[..., Model]:
    """The function ``py:package.module:factory`` names."""
    target = spec[len(PY_PREFIX) :]
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise EvalConfigError(f"--model {spec!r}: expected py:package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EvalConfigError(f"--model {spec!r}: cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise EvalConfigError(f"--model {spec!r}: {module_name} has no callable {attr!r}")
    return factory


def default_model_factory(config: EvalConfig) -> Callable[[int], Model] | None:
    """Makes the model of one episode, given its sample number (None: no model named)."""
    if not config.model:
        return None
    if config.model.startswith(PY_PREFIX):
        if config.api_base:
            raise EvalConfigError("--api-base applies to litellm models, not to a py: factory")
        factory = python_model_factory(config.model)
        return lambda sample: factory(**config.model_args)
    extra = dict(config.model_args)

    def make(sample: int) -> Model:
        kwargs = dict(extra)
        if config.seed is not None:
            # Dropped by the model for providers that take no seed (nothing else is dropped).
            kwargs.setdefault("seed", config.seed + sample)
        return LiteLLMModel(
            config.model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            timeout_s=config.timeout_s,
            api_base=config.api_base,
            completion_kwargs=kwargs,
        )

    return make


def evaluate(
    config: EvalConfig,
    *,
    model_factory: Callable[[], Model] | None = None,
    env_factory: Callable[[str], Any] | None = None,
    tasks: list[Task] | None = None,
    show_progress: bool = False,
    console: Any = None,
) -> dict[str, Any]:
    """Run (or resume) the evaluation described by ``config``; return its summary.

    ``model_factory`` (no arguments, called once per episode) replaces the model that
    ``config.model`` names. Raises :class:`~codearc_env.agents.model.FatalModelError` when
    the provider refuses the requests themselves (bad key, unknown model): the run stops at
    once and resumes once the cause is fixed.
    """
    if config.agent not in NEEDS_MODEL:
        raise EvalConfigError(
            f"unknown agent {config.agent!r}; choose from {', '.join(NEEDS_MODEL)}"
        )
    if config.samples < 1:
        raise EvalConfigError(f"samples must be >= 1, got {config.samples}")
    settings = config.settings()  # refuses model_args that are not JSON data, before any work
    for flag, wanted in (("--retry-errors", config.retry_errors), ("--force", config.force)):
        if wanted and not config.resume:
            raise EvalConfigError(f"{flag} applies to a resumed run: add --resume")
    per_sample = default_model_factory(config) if model_factory is None else None
    if model_factory is not None:
        given = model_factory
        per_sample = lambda sample: given()  # noqa: E731
    if NEEDS_MODEL[config.agent] and per_sample is None:
        raise EvalConfigError(f"the {config.agent!r} agent needs a model (--model)")
    named_model = config.model if not config.model.startswith(PY_PREFIX) else ""
    model_name = named_model or (per_sample(0).name if per_sample else "")

    def new_agent(task: Task) -> Agent:
        model = per_sample(task.sample) if per_sample else None
        return make_agent(
            config.agent, model, teacher=config.teacher, force_tool_choice=config.force_tool_choice
        )

    tasks = tasks if tasks is not None else load_tasks(config)
    results, digest = prepare_run_dir(
        config.out_dir,
        settings,
        config.resume,
        config.retry_errors,
        operational=config.operational(),
        force=config.force,
    )
    start = time.monotonic()
    pool = make_pool(config) if env_factory is None and config.ray is None else None
    execute: Callable[..., Any] = run_tasks
    if config.ray is not None:  # each node makes its own pool and environments
        from codearc_env.agents.ray_eval import ray_executor

        execute = ray_executor(config, env_factory)
    try:
        options = PlayOptions(
            model_name=model_name,
            max_attempts=config.max_attempts,
            retry_wait_s=config.retry_wait_s,
            run_settings_hash=digest,
            max_invalid_in_a_row=config.max_invalid_in_a_row,
            episode_time_limit_s=config.time_cap,
        )
        run = RunPlan(
            make_env=env_factory or default_env_factory(config, pool),
            make_agent=new_agent,
            results=results,
            traces_dir=config.out_dir / "traces",
            options=options,
            concurrency=config.concurrency,
        )
        if show_progress:
            _run_with_progress(tasks, run, console, execute)
        else:
            execute(tasks, run)
    finally:
        if pool is not None:
            pool.close()
    finished = all_results(results, tasks)
    summary = summarize(
        finished,
        model=model_name,
        not_comparable=paper_setting_gaps(config.settings()),
        samples=config.samples,
    )
    summary["run"] = {
        "agent": config.agent,
        "split": config.split,
        "variants": list(config.variants),
        "samples": config.samples,
        "tasks": len(tasks),
        "finished": len(finished),
        "wall_s": round(time.monotonic() - start, 3),
        "concurrency": config.concurrency,
        "run_settings_hash": digest,
    }
    (config.out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary


def _run_with_progress(
    tasks: list[Task], run: RunPlan, console: Any, execute: Callable[..., Any] = run_tasks
) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    with Bar(
        TextColumn("[bold]eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        bar_id = bar.add_task("starting", total=len(tasks))

        def on_result(result: EpisodeResult | None, progress: Progress) -> None:
            bar.update(bar_id, completed=progress.done, description=progress.describe())

        execute(tasks, run, on_result)
