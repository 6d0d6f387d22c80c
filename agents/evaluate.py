"""Wire an evaluation together: problems, environments, model, agent, runner and summary.

The command line (``codearc eval`` / ``codearc collect``) is a thin layer over
:func:`evaluate`; tests call it with injected model and environment factories.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codearc_env.agents.episode import Agent, EpisodeResult
from codearc_env.agents.factory import NEEDS_MODEL, make_agent
from codearc_env.agents.model import LiteLLMModel, Model
from codearc_env.agents.runner import Progress, Task, all_results, prepare_run_dir, run_tasks
from codearc_env.agents.summary import summarize

VARIANT_CHOICES = ("annotated", "anonymized", "both")


@dataclass(frozen=True)
class EvalConfig:
    out_dir: Path
    agent: str = "react"
    model: str = ""
    """Provider string for litellm (e.g. ``openai/gpt-4o-mini``, ``local/smollm2``)."""
    variant: str = "annotated"
    """``annotated``, ``anonymized`` or ``both``."""
    split: str = "all"
    limit: int | None = None
    """First N problems of the split, per variant."""
    concurrency: int = 1
    resume: bool = False
    retry_errors: bool = False
    """With ``resume``: run again the episodes recorded as API, infra or agent errors."""
    backend: str | None = None
    data_dir: str | None = None
    b_io: int = 30
    b_oracle: int = 2
    max_turns: int = 50
    max_attempts: int = 3
    """Tries per episode when the API or the harness fails."""
    retry_wait_s: float = 5.0
    teacher: bool = False
    """Collect mode: the agent sees the hidden function in a privileged prefix."""
    force_tool_choice: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float = 180.0

    @property
    def variants(self) -> tuple[str, ...]:
        return ("annotated", "anonymized") if self.variant == "both" else (self.variant,)

    def run_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["out_dir"] = str(self.out_dir)
        record["variants"] = list(self.variants)
        del record["resume"], record["retry_errors"]
        return record


def load_tasks(config: EvalConfig) -> list[Task]:
    from codearc_env.problems import load_problems

    tasks = []
    for variant in config.variants:
        ids = load_problems(variant, config.split, config.data_dir).ids
        if config.limit is not None:
            ids = ids[: config.limit]
        tasks += [Task(pid, variant) for pid in ids]
    return tasks


def default_env_factory(config: EvalConfig) -> Callable[[str], Any]:
    def make(variant: str) -> Any:
        from codearc_env.env import CodeARCEnv

        return CodeARCEnv(
            variant=variant,
            split=config.split,
            data_dir=config.data_dir,
            backend=config.backend,
            b_io=config.b_io,
            b_oracle=config.b_oracle,
            max_turns=config.max_turns,
        )

    return make


def default_model_factory(config: EvalConfig) -> Callable[[], Model] | None:
    if not config.model:
        return None
    return lambda: LiteLLMModel(
        config.model,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        timeout_s=config.timeout_s,
    )


def evaluate(
    config: EvalConfig,
    *,
    model_factory: Callable[[], Model] | None = None,
    env_factory: Callable[[str], Any] | None = None,
    tasks: list[Task] | None = None,
    show_progress: bool = False,
    console: Any = None,
) -> dict[str, Any]:
    """Run (or resume) the evaluation described by ``config``; return its summary."""
    if config.agent not in NEEDS_MODEL:
        raise ValueError(f"unknown agent {config.agent!r}; choose from {', '.join(NEEDS_MODEL)}")
    model_factory = model_factory or default_model_factory(config)
    if NEEDS_MODEL[config.agent] and model_factory is None:
        raise ValueError(f"the {config.agent!r} agent needs a model (--model)")
    model_name = config.model or (model_factory().name if model_factory else "")

    def new_agent() -> Agent:
        model = model_factory() if model_factory else None
        return make_agent(
            config.agent, model, teacher=config.teacher, force_tool_choice=config.force_tool_choice
        )

    tasks = tasks if tasks is not None else load_tasks(config)
    results = prepare_run_dir(
        config.out_dir, config.run_record(), config.resume, config.retry_errors
    )
    start = time.monotonic()
    stop = threading.Event()
    run = dict(
        make_env=env_factory or default_env_factory(config),
        make_agent=new_agent,
        results=results,
        traces_dir=config.out_dir / "traces",
        model_name=model_name,
        concurrency=config.concurrency,
        max_attempts=config.max_attempts,
        retry_wait_s=config.retry_wait_s,
        stop=stop,
    )
    if show_progress:
        _run_with_progress(tasks, run, console)
    else:
        run_tasks(tasks, **run)
    finished = all_results(results, tasks)
    main_setting = (config.b_io, config.b_oracle, config.split) == (30, 2, "all")
    summary = summarize(finished, model=model_name, main_setting=main_setting)
    summary["run"] = {
        "agent": config.agent,
        "split": config.split,
        "variants": list(config.variants),
        "tasks": len(tasks),
        "finished": len(finished),
        "wall_s": round(time.monotonic() - start, 3),
        "concurrency": config.concurrency,
    }
    (config.out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary


def _run_with_progress(tasks: list[Task], run: dict[str, Any], console: Any) -> None:
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

        run_tasks(tasks, on_result=on_result, **run)
