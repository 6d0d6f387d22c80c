"""``codearc eval``, ``codearc collect`` and ``codearc traces export``.

Importing this module is cheap: litellm, rich and the environment load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from codearc_env.config import DEFAULT_CONFIG
from codearc_env.oracle.warm_cli import positive_int

AGENTS = ("react", "text", "ground-truth", "examples-only")


def register(subparsers: Any) -> None:
    ev = subparsers.add_parser(
        "eval",
        help="evaluate an agent on CodeARC problems (resumable)",
        description="Run an agent over a split and write results.jsonl, traces/ and "
        "summary.json to --out. A killed run continues with --resume.",
    )
    _add_run_arguments(ev, model_flag="--model")
    ev.add_argument("--agent", choices=AGENTS, default="react")
    ev.set_defaults(func=_eval)

    co = subparsers.add_parser(
        "collect",
        help="collect teacher traces for fine-tuning (teacher sees the hidden function)",
        description="Play episodes with a teacher model that is shown the hidden function in "
        "a privileged prefix; its submissions are oracle-checked. Writes the run to --out, "
        "then student-<format>.jsonl (successful episodes, prefix removed) and "
        "failed-<format>.jsonl (kept apart).",
    )
    _add_run_arguments(co, model_flag="--teacher")
    co.add_argument("--agent", choices=("react", "text"), default="react")
    co.add_argument("--format", choices=("openai", "trl"), default="openai")
    co.set_defaults(func=_collect)

    traces = subparsers.add_parser("traces", help="work with recorded traces")
    tsub = traces.add_subparsers(dest="traces_command", metavar="ACTION")
    ex = tsub.add_parser(
        "export",
        help="export traces as fine-tuning data",
        description="Write one JSON line per finished episode: OpenAI chat fine-tuning "
        "format or TRL's conversational format with tools. Privileged messages are dropped.",
    )
    ex.add_argument("--format", choices=("openai", "trl"), required=True)
    ex.add_argument(
        "--only-successful",
        action="store_true",
        help="keep solved episodes only (default: solved and failed)",
    )
    ex.add_argument("in_dir", metavar="IN_DIR", help="a run folder, a traces folder or a file")
    ex.add_argument("out", metavar="OUT.jsonl")
    ex.set_defaults(func=_export)
    traces.set_defaults(func=lambda args: (traces.print_help(), 2)[1])


def _add_run_arguments(p: argparse.ArgumentParser, model_flag: str) -> None:
    p.add_argument(
        model_flag,
        dest="model",
        default="",
        help="litellm model string (openai/gpt-4o-mini, local/smollm2), or "
        "py:package.module:factory for a Python function that returns a model",
    )
    p.add_argument("--api-base", default=None, help="the provider's base URL (e.g. a local server)")
    p.add_argument(
        "--model-arg",
        dest="model_args",
        action="append",
        default=[],
        type=_key_value,
        metavar="KEY=VALUE",
        help="extra argument for the model call (repeatable; VALUE read as JSON when it is "
        "JSON), e.g. reasoning_effort=low, extra_body='{\"top_k\": 20}', mock_response=hi",
    )
    p.add_argument("--variant", choices=("annotated", "anonymized", "both"), default="annotated")
    p.add_argument(
        "--split",
        default="all",
        help="all, clean, humaneval+, mbpp+, apps or builtin (default: all)",
    )
    p.add_argument(
        "--problems",
        default=None,
        type=_problem_ids,
        help="only these problems: ids separated by commas (annotated/12, or 12 in every "
        "variant), or a file of ids, one per line",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="first N problems per variant (after --problems and the --seed order)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="shuffle the problem order with this seed, and send it to the model as its "
        "sampling seed where the provider takes one",
    )
    p.add_argument(
        "--samples", type=positive_int, default=1, help="episodes per problem; reports pass@k"
    )
    p.add_argument("--concurrency", type=positive_int, default=1)
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--retry-errors",
        action="store_true",
        help="with --resume: run again episodes that ended in API/infra/agent errors",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue under settings other than the recorded ones (the "
        "change is recorded in run.json)",
    )
    p.add_argument("--backend", default=None, help="sandbox backend: docker, bwrap or process")
    p.add_argument(
        "--pool-size",
        type=_pool_size,
        default=None,
        help="sandboxes shared by all episodes (default: 2 per concurrent episode, at most 8; "
        "0: each episode's environment owns two)",
    )
    p.add_argument("--data-dir", default=None, help="CodeARC data folder")
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="play the episodes on a Ray cluster (extra 'ray'): the ADDRESS of a running one, "
        "or none to start one on this machine; each node plays --concurrency episodes on a "
        "pool of its own, and only this process writes --out",
    )
    for field, kind, text in _env_flags():
        flag = "--" + field.replace("_", "-")
        default = getattr(DEFAULT_CONFIG, field)
        p.add_argument(flag, type=kind, default=None, help=text.format(default=default))
    p.add_argument(
        "--max-invalid",
        type=positive_int,
        default=3,
        help="invalid actions in a row that end an episode as a failure (default: 3)",
    )
    p.add_argument(
        "--episode-time-limit",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="wall-clock seconds after which an episode ends as a failure (default: 60 for "
        "local/ models, no limit for others)",
    )
    p.add_argument(
        "--max-attempts",
        type=positive_int,
        default=3,
        help="tries per episode on API or harness failure",
    )
    p.add_argument(
        "--force-tool-choice",
        action="store_true",
        help="react agent: require a tool call every turn (helps small models)",
    )
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-tokens", type=positive_int, default=None)
    p.add_argument("--timeout", type=float, default=180.0, help="seconds per model call")
    p.add_argument("--no-progress", action="store_true")


def _env_flags() -> tuple[tuple[str, Any, str], ...]:
    """(EnvConfig field, argument type, help) of the flags that set the episodes' EnvConfig;
    a flag left out keeps the model's default (:func:`evaluate.default_env_config`)."""
    return (
        ("b_io", int, "I/O budget incl. 10 examples (default: {default})"),
        ("b_oracle", int, "submissions per episode (default: {default})"),
        ("max_turns", positive_int, "actions per episode (default: {default}; 6 for local/ models)"),
        ("oracle_seed", int, "seed of the oracle's inputs (default: {default})"),
        ("oracle_strength", str, "how many inputs the oracle generates (default: {default})"),
    )


def _pool_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 0 or an integer >= 2, got {text!r}") from None
    if value == 1 or value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 0 or an integer >= 2 (references and candidates never share a "
            f"sandbox), got {value}"
        )
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


def _problem_ids(text: str) -> tuple[str, ...]:
    from codearc_env.agents.selection import read_problem_ids

    try:
        return read_problem_ids(text)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _config(args: argparse.Namespace, teacher: bool) -> Any:
    from codearc_env.agents.evaluate import EvalConfig, default_env_config
    from codearc_env.errors import UsageError

    given = {field: getattr(args, field) for field, _, _ in _env_flags()}
    try:
        env = default_env_config(args.model).with_overrides(**given)
    except ValueError as exc:  # a budget out of range: a usage error (exit 2)
        raise UsageError(str(exc)) from None
    return EvalConfig(
        out_dir=args.out,
        agent=args.agent,
        model=args.model,
        variant=args.variant,
        split=args.split,
        problems=args.problems,
        limit=args.limit,
        seed=args.seed,
        samples=args.samples,
        concurrency=args.concurrency,
        resume=args.resume,
        retry_errors=args.retry_errors,
        force=args.force,
        backend=args.backend,
        pool_size=args.pool_size,
        data_dir=args.data_dir,
        ray=args.ray,
        env=env,
        max_invalid_in_a_row=args.max_invalid,
        episode_time_limit_s=args.episode_time_limit,
        max_attempts=args.max_attempts,
        teacher=teacher,
        force_tool_choice=args.force_tool_choice,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        timeout_s=args.timeout,
        api_base=args.api_base,
        model_args=dict(args.model_args),
    )


def _run(args: argparse.Namespace, teacher: bool) -> tuple[dict[str, Any], Any]:
    from rich.console import Console

    from codearc_env.agents.evaluate import evaluate
    from codearc_env.agents.model import FatalModelError
    from codearc_env.agents.settings import EvalConfigError, RunDirError
    from codearc_env.agents.summary import summary_table

    console = Console(stderr=True)
    try:
        summary = evaluate(
            _config(args, teacher), show_progress=not args.no_progress, console=console
        )
    except (EvalConfigError, RunDirError) as exc:
        _error(str(exc))
    except FatalModelError as exc:
        _error(
            f"the model provider refused the request, so the run stopped: {exc}\n"
            f"Finished episodes are kept in {args.out / 'results.jsonl'}; fix the cause and "
            "continue with --resume."
        )
    out = Console()
    if not out.is_terminal:  # logs and CI: do not squeeze the table to 80 columns
        out = Console(width=160)
    out.print(summary_table(summary))
    return summary, console


def _error(message: str) -> NoReturn:
    # Plain print: rich would wrap long paths and messages mid-word.
    print(f"codearc: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _print_summary_path(args: argparse.Namespace) -> None:
    """The last line of eval and collect: the summary's path, unwrapped, on stdout."""
    print(f"summary: {args.out / 'summary.json'}", flush=True)


def _eval(args: argparse.Namespace) -> int:
    summary, console = _run(args, teacher=False)
    print(f"results: {args.out / 'results.jsonl'}", file=sys.stderr, flush=True)
    _print_summary_path(args)
    return 0


def _collect(args: argparse.Namespace) -> int:
    from codearc_env.agents.export import export
    from codearc_env.errors import UsageError

    if not args.model:  # a usage error (exit 2), never exit 1, which means FAIL
        raise UsageError("collect needs a teacher model: pass --teacher MODEL")
    summary, console = _run(args, teacher=True)
    good = export(
        args.out, args.out / f"student-{args.format}.jsonl", args.format, only_successful=True
    )
    bad = export(
        args.out, args.out / f"failed-{args.format}.jsonl", args.format, statuses=("failure",)
    )
    print(
        f"student traces: {good.written} -> {args.out / f'student-{args.format}.jsonl'}; "
        f"failed traces kept apart: {bad.written} -> {args.out / f'failed-{args.format}.jsonl'}",
        file=sys.stderr,
        flush=True,
    )
    _print_summary_path(args)
    return 0


def _export(args: argparse.Namespace) -> int:
    from codearc_env.agents.export import export

    stats = export(args.in_dir, args.out, args.format, only_successful=args.only_successful)
    print(json.dumps({"out": str(args.out), **stats.__dict__}))
    return 0
