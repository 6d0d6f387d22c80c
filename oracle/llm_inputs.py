"""Optional LLM-proposed inputs, to approximate the original benchmark's LLM leg.

Off by default. When enabled (``Oracle(..., extra_sources=[LLMInputs(model)])``) a model is
shown the reference source and its examples once per problem and asked for inputs likely to
expose wrong implementations (edge cases, boundaries). Its reply is cached on disk, keyed by
model and prompt, so later checks are deterministic and offline. Replies are parsed with
:mod:`codearc_env.functions.calls` (literal calls of the target only); nothing in them is
ever evaluated. Lines that do not parse are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from codearc_env.errors import CallParseError, CodeARCError
from codearc_env.functions.calls import parse_call
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle.inputs import CallInput

PROMPT_VERSION = 1
Completion = Callable[[str, list[dict[str, str]]], str]
"""``(model, messages) -> reply text``; inject a stub in tests."""


def build_prompt(fn: HiddenFunction, n: int) -> str:
    examples = "\n".join(f"{ex.expression} -> {ex.output}" for ex in fn.examples if ex.expression)
    return (
        f"Here is a Python function `{fn.target}` and some calls of it with their results.\n\n"
        f"```python\n{fn.code}\n```\n\n"
        f"Calls seen so far:\n{examples}\n\n"
        f"Write {n} new calls of `{fn.target}` that would catch an implementation which is "
        "almost, but not exactly, right: edge cases, boundaries, empty or unusual values, "
        "inputs that take rarely used branches. Keep each input small. Use literal arguments "
        "only (numbers, strings, lists, tuples, dicts, sets, True/False/None). Reply with one "
        f"call per line, like `{fn.target}(...)`, and nothing else."
    )


def litellm_completion(model: str, messages: list[dict[str, str]]) -> str:
    """One deterministic-as-possible completion through litellm (temperature 0)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # heavy: imported only when the LLM leg is used

    response = litellm.completion(model=model, messages=messages, temperature=0.0, seed=0)
    return response.choices[0].message.content or ""


class LLMInputs:
    """An extra input source for :class:`codearc_env.oracle.Oracle`."""

    def __init__(
        self,
        model: str,
        *,
        n: int = 10,
        cache_dir: str | Path | None = None,
        completion: Completion | None = None,
    ) -> None:
        from codearc_env.oracle.cache import default_cache_dir

        self.model = model
        self.n = n
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir() / "llm"
        self.completion = completion or litellm_completion
        self.cache_id = f"llm/{PROMPT_VERSION}/{model}/{n}"
        """Enters the oracle's reference cache key."""
        self.calls = 0
        """Completions actually requested (cache misses)."""

    def __call__(self, fn: HiddenFunction) -> list[CallInput]:
        return parse_proposals(self.reply(fn), fn.target)

    def reply(self, fn: HiddenFunction) -> str:
        prompt = build_prompt(fn, self.n)
        key = hashlib.sha256(json.dumps([self.model, prompt]).encode()).hexdigest()
        path = self.cache_dir / f"{key}.json"
        try:
            return str(json.loads(path.read_text(encoding="utf-8"))["reply"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not cached yet (or unreadable): ask the model
        try:
            reply = self.completion(self.model, [{"role": "user", "content": prompt}])
        except Exception as exc:  # any provider error; the caller asked for this leg
            raise CodeARCError(f"LLM input proposal with {self.model} failed: {exc}") from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"model": self.model, "reply": reply}), encoding="utf-8")
        tmp.replace(path)
        self.calls += 1
        return reply


def parse_proposals(text: str, target: str) -> list[CallInput]:
    """Literal calls of ``target`` in ``text``, one per line; code fences and junk skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip().strip("`").strip()
        if not line.startswith(f"{target}("):
            continue
        try:
            call = parse_call(line, target)
        except CallParseError:
            continue
        out.append(CallInput(call.args, call.kwargs, "llm"))
    return out
