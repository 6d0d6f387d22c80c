"""LLM-proposed inputs with a stub completion (no network): parsing, caching, use by the oracle."""

from __future__ import annotations

import pytest
from oracle_helpers import make_fn

from codearc_env.errors import CodeARCError
from codearc_env.oracle import Oracle
from codearc_env.oracle.llm_inputs import LLMInputs, build_prompt, parse_proposals

CODE = "def shout(s: str, n: int) -> str:\n    return (s.upper() + '!') * n\n"
FN = make_fn(CODE, "shout", ["shout('a', 1)", "shout('hey', 2)", "shout('', 3)"])
REPLY = """Here you go:
```python
shout('zz', 0)
shout('MiXeD', 1)
shout(__import__('os').system('echo pwned'), 1)
print(shout('x', 2))
other('x', 1)
shout('x' * 3, 1)
shout('ok', -2)
```"""


class Stub:
    def __init__(self, reply: str = REPLY) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def __call__(self, model: str, messages: list[dict[str, str]]) -> str:
        self.prompts.append(messages[0]["content"])
        return self.reply


def test_only_literal_calls_of_the_target_are_kept() -> None:
    got = parse_proposals(REPLY, "shout")
    assert [(x.args, x.origin) for x in got] == [
        (("zz", 0), "llm"),
        (("MiXeD", 1), "llm"),
        (("ok", -2), "llm"),
    ]


def test_prompt_shows_the_reference_and_examples() -> None:
    prompt = build_prompt(FN, 5)
    assert CODE in prompt and "shout('hey', 2) -> ?" in prompt and "Write 5 new calls" in prompt


def test_replies_are_cached_on_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stub = Stub()
    first = LLMInputs("stub/model", cache_dir=tmp_path, completion=stub)
    assert len(first(FN)) == 3
    again = LLMInputs("stub/model", cache_dir=tmp_path, completion=stub)
    assert again(FN) == first(FN)
    assert len(stub.prompts) == 1 and first.calls == 1 and again.calls == 0


def test_provider_errors_are_harness_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def failing(model: str, messages: list[dict[str, str]]) -> str:
        raise ConnectionError("no route")

    source = LLMInputs("stub/model", cache_dir=tmp_path, completion=failing)
    with pytest.raises(CodeARCError, match="LLM input proposal with stub/model failed: no route"):
        source(FN)


def test_oracle_uses_proposed_inputs(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # wrong on one string that the generators will not draw but the (stub) model proposes
    candidate = "def shout(s, n):\n    return '' if s == 'MiXeD' else (s.upper() + '!') * n\n"
    plain = Oracle(*boxes, strength="tiny", cache_dir=tmp_path / "plain")
    assert plain.check(FN, candidate).passed
    llm = LLMInputs("stub/model", cache_dir=tmp_path / "llm", completion=Stub())
    with_llm = Oracle(*boxes, strength="tiny", cache_dir=tmp_path / "ref", extra_sources=[llm])
    v = with_llm.check(FN, candidate)
    assert v.reason == "wrong result on shout('MiXeD', 1)"
