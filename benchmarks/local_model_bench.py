"""Speed of the embedded local model on this machine. Prints figures; asserts nothing.

1. Server start-up: time until ``local/smollm2`` answers on loopback (cold process).
2. Prompt processing: tokens per second for fresh prompts of a few sizes (``max_tokens=1``;
   each prompt starts with a new nonce so the server's prefix reuse cannot help).
3. Generation: tokens per second for a long reply whose prompt is already in the server's
   cache (the same prompt was just sent with ``max_tokens=1``), so the time is generation.
4. A forced tool call (``tool_choice`` naming the function): latency per call.
5. Episodes: the text and react agents on the first problems of the built-in suite, with the
   settings of tests/local (``max_turns``, ``max_tokens``): wall time per episode.

    python benchmarks/local_model_bench.py [--episodes 3] [--agents text,react] [--json out.json]

Load average is printed before and after: on a shared 2-core machine it changes the wall-clock
figures far more than anything here. Token rates are therefore also given per CPU-second of
the server process (read from /proc), which other work on the machine does not change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MODEL = "local/smollm2"
TOOL = {
    "type": "function",
    "function": {
        "name": "submit",
        "description": "Submit a Python program.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string"}},
            "required": ["code"],
        },
    },
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


_SERVER_PID = 0


def server_cpu_s() -> float:
    """User + system CPU seconds used so far by the server process."""
    fields = Path(f"/proc/{_SERVER_PID}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chat(kwargs: dict[str, str], content: str, **request: Any) -> tuple[Any, float, float]:
    """The response, its wall time and the server's CPU time for it."""
    import litellm

    cpu, start = server_cpu_s(), time.perf_counter()
    response = litellm.completion(
        **kwargs,
        messages=[{"role": "user", "content": content}],
        temperature=0.0,
        seed=0,
        **request,
    )
    return response, time.perf_counter() - start, server_cpu_s() - cpu


def _rate(tokens: int, seconds: float) -> float:
    return tokens / seconds if seconds > 0 else float("nan")


def _speeds(label: str, samples: list[tuple[int, float, float]]) -> dict[str, float]:
    """Median tokens per wall second and per server CPU second of (tokens, wall, cpu) samples."""
    return {
        label: samples[-1][0] if samples else 0,
        "tokens_per_s": statistics.median(_rate(t, wall) for t, wall, _ in samples),
        "tokens_per_cpu_s": statistics.median(_rate(t, cpu) for t, _, cpu in samples),
    }


def prompt_speed(kwargs: dict[str, str], words: int, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        text = f"[{uuid.uuid4().hex}] " + " ".join(f"item{i}" for i in range(words))
        response, elapsed, cpu_s = chat(kwargs, text + "\nSummarise.", max_tokens=1)
        samples.append((response.usage.prompt_tokens, elapsed, cpu_s))
    return _speeds("prompt_tokens", samples)


def generation_speed(kwargs: dict[str, str], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        text = f"[{uuid.uuid4().hex}] Count from 1 to 300, separated by commas."
        chat(kwargs, text, max_tokens=1)  # puts the prompt in the server's cache
        response, elapsed, cpu_s = chat(kwargs, text, max_tokens=256)
        samples.append((response.usage.completion_tokens, elapsed, cpu_s))
    return _speeds("completion_tokens", samples)


def forced_call(kwargs: dict[str, str], repeats: int) -> dict[str, float]:
    times = []
    for i in range(repeats):
        _, elapsed, _ = chat(
            kwargs,
            f"Attempt {i}: write f(x) returning x squared.",
            tools=[TOOL],
            tool_choice={"type": "function", "function": {"name": "submit"}},
            max_tokens=128,
        )
        times.append(elapsed)
    return {"median_s": statistics.median(times), "max_s": max(times)}


def episodes(agent: str, n: int, max_turns: int, max_tokens: int) -> dict[str, Any]:
    from codearc_env.agents.evaluate import EvalConfig, evaluate
    from codearc_env.agents.results import ResultsFile
    from codearc_env.config import EnvConfig

    with tempfile.TemporaryDirectory(prefix="codearc-local-bench-") as tmp:
        out = Path(tmp) / agent
        start = time.perf_counter()
        evaluate(
            EvalConfig(
                out_dir=out,
                agent=agent,
                model=MODEL,
                split="builtin",
                limit=n,
                env=EnvConfig(max_turns=max_turns),
                max_tokens=max_tokens,
                temperature=0.0,
                force_tool_choice=True,
                max_attempts=1,
            )
        )
        wall = time.perf_counter() - start
        results = list(ResultsFile(out / "results.jsonl").load().values())
    durations = [r.duration_s for r in results]
    return {
        "episodes": len(results),
        "wall_s": wall,
        "per_episode_mean_s": statistics.mean(durations),
        "per_episode_max_s": max(durations),
        "env_steps_per_episode": statistics.mean(r.turns for r in results),
        "invalid_replies": sum(r.invalid_replies for r in results),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "statuses": sorted({r.status for r in results}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3, help="problems per agent")
    parser.add_argument("--agents", default="text,react", help="comma list; empty to skip")
    parser.add_argument("--max-turns", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import llama_cpp

    from codearc_env.agents.local_model import parse_local_model, resolve_local_model
    from codearc_env.agents.local_server import _default_threads, server_for, stop_all

    global _SERVER_PID

    figures: dict[str, Any] = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "llama_cpp_python": llama_cpp.__version__,
        "threads": _default_threads(),
        "load_before": load(),
    }
    print(
        f"cpu: {figures['cpu']} ({figures['cores']} cores), llama-cpp-python "
        f"{figures['llama_cpp_python']}, threads {figures['threads']}"
    )
    print(f"load average before: {figures['load_before']}")
    try:
        start = time.perf_counter()
        kwargs = resolve_local_model(MODEL)
        figures["startup_s"] = time.perf_counter() - start
        _SERVER_PID = server_for(parse_local_model(MODEL)).pid or 0
        print(f"server start-up: {figures['startup_s']:.2f} s")
        chat(kwargs, "Hello.", max_tokens=1)  # warm-up

        figures["prompt"] = []
        for words in (40, 250, 1000):
            row = prompt_speed(kwargs, words, args.repeats)
            figures["prompt"].append(row)
            print(
                f"prompt processing: {row['prompt_tokens']:5d} tokens "
                f"{row['tokens_per_s']:8.1f} tok/s ({row['tokens_per_cpu_s']:.1f} per CPU-s)"
            )
        figures["generation"] = generation_speed(kwargs, args.repeats)
        gen = figures["generation"]
        print(
            f"generation: {gen['completion_tokens']} tokens {gen['tokens_per_s']:.1f} tok/s "
            f"({gen['tokens_per_cpu_s']:.1f} per CPU-s)"
        )
        figures["forced_tool_call"] = forced_call(kwargs, args.repeats)
        fc = figures["forced_tool_call"]
        print(
            f"forced tool call (<=128 tokens): median {fc['median_s']:.2f} s, "
            f"max {fc['max_s']:.2f} s"
        )
        figures["episodes"] = {}
        for agent in [a for a in args.agents.split(",") if a]:
            row = episodes(agent, args.episodes, args.max_turns, args.max_tokens)
            figures["episodes"][agent] = row
            print(
                f"{agent} agent: {row['episodes']} episodes in {row['wall_s']:.1f} s, "
                f"mean {row['per_episode_mean_s']:.1f} s/episode "
                f"(max {row['per_episode_max_s']:.1f}), "
                f"{row['env_steps_per_episode']:.1f} env steps/episode, "
                f"{row['invalid_replies']} invalid replies, statuses {row['statuses']}"
            )
    finally:
        stop_all()
    figures["load_after"] = load()
    print(f"load average after: {figures['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
