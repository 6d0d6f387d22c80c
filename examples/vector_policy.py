"""Run a simple policy over many episodes in a vector env and print its success rate.

The policy is a memorizer: it queries each initial example's call with its integer arguments
shifted by one (to learn a little more), then submits a program that answers every call it
has seen from a table and falls back to the most common output. It is a baseline that shows
how under-specified 10 examples are, not a good agent.

    python examples/vector_policy.py --episodes 100 --num-envs 4 [--mode async] [--backend B]

Text observations cannot live in shared memory: async vector envs need shared_memory=False.
"""

from __future__ import annotations

import argparse
import ast
import collections
from typing import Any

import gymnasium
import numpy as np

import codearc_env  # noqa: F401  (registers the CodeARC-* ids)
from codearc_env.errors import CallParseError
from codearc_env.functions.calls import parse_call, render_call


def shifted(call: str, name: str) -> str | None:
    """The call with every int argument plus one, or None when nothing changes."""
    try:
        parsed = parse_call(call, name)
    except CallParseError:
        return None
    args = tuple(a + 1 if type(a) is int else a for a in parsed.args)
    return render_call(name, args, parsed.kwargs) if args != parsed.args else None


def value_of(output: str) -> Any:
    """An output's value when it reads as a literal (the host never evaluates code)."""
    try:
        return ast.literal_eval(output)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return output


def memorizer(name: str, calls: tuple[str, ...], outputs: tuple[str, ...],
              errored: tuple[int, ...]) -> str:
    table = {}
    for call, output, err in zip(calls, outputs, errored, strict=True):
        try:
            parsed = parse_call(call, name)
        except CallParseError:
            continue
        if not err:
            table[repr((parsed.args, parsed.kwargs))] = value_of(output)
    common = collections.Counter(map(repr, table.values())).most_common(1)
    default = common[0][0] if common else "None"
    return (
        f"_TABLE = {table!r}\n\n"
        f"def {name}(*args, **kwargs):\n"
        f"    return _TABLE.get(repr((args, tuple(kwargs.items()))), {default})\n"
    )


def act(obs: dict[str, Any], i: int) -> tuple[int, str]:
    name = obs["function_name"][i]
    calls = obs["calls"][i]
    n_initial = 10
    if len(calls) == n_initial and obs["io_left"][i] > 0:
        queries = [q for c in calls if (q := shifted(c, name))]
        if queries:
            return 0, "\n".join(queries)
    return 1, memorizer(name, calls, obs["outputs"][i], obs["errored"][i])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-id", default="CodeARC-Builtin-v0")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--mode", choices=["sync", "async"], default="sync")
    parser.add_argument("--backend", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    make_kwargs: dict[str, Any] = {"backend": args.backend}
    if args.data_dir:
        make_kwargs["data_dir"] = args.data_dir
    vector_kwargs = {"shared_memory": False} if args.mode == "async" else {}
    envs = gymnasium.make_vec(args.env_id, num_envs=args.num_envs, vectorization_mode=args.mode,
                              vector_kwargs=vector_kwargs, **make_kwargs)
    obs, _ = envs.reset(seed=args.seed)
    done_prev = np.zeros(args.num_envs, dtype=bool)  # next-step autoreset: skip that step
    finished, solved = 0, 0
    while finished < args.episodes:
        kinds, texts = zip(*(act(obs, i) for i in range(args.num_envs)), strict=True)
        obs, rewards, terms, truncs, infos = envs.step(
            {"kind": np.array(kinds), "text": tuple(texts)}
        )
        ended = (terms | truncs) & ~done_prev
        finished += int(ended.sum())
        solved += int((rewards[ended] > 0).sum())
        done_prev = terms | truncs
    envs.close()
    print(f"episodes: {finished}  solved: {solved}  success rate: {solved / finished:.1%}")


if __name__ == "__main__":
    main()
