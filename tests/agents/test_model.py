"""LiteLLMModel: retries, error mapping, accounting and the resolver hook, all offline.

``litellm.completion`` is replaced by fakes or given ``mock_response``: no network.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codearc_env.agents.model import (
    ContextOverflowError,
    LiteLLMModel,
    ModelError,
    RetryPolicy,
)

litellm = pytest.importorskip("litellm")


def _rate_limit():
    return litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-x")


def test_import_does_not_load_litellm():
    code = "import sys, codearc_env.agents.model, codearc_env.agents.cli; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mock_response_text_and_accounting():
    model = LiteLLMModel("openai/gpt-4o-mini", completion_kwargs={"mock_response": "hello"})
    reply = model.complete([{"role": "user", "content": "hi"}])
    assert reply.content == "hello" and reply.tool_calls == ()
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert model.usage.calls == 1 and model.usage.prompt_tokens == reply.prompt_tokens


def test_tool_calls_are_parsed(monkeypatch):
    response = litellm.ModelResponse(
        choices=[
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c9",
                            "type": "function",
                            "function": {"name": "query", "arguments": '{"calls": "f(1)"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    )
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return response

    monkeypatch.setattr(litellm, "completion", fake)
    model = LiteLLMModel("openai/gpt-4o-mini", temperature=0.0)
    reply = model.complete(
        [{"role": "user", "content": "x"}], tools=[{"type": "function"}], tool_choice="required"
    )
    assert [(t.id, t.name, t.arguments) for t in reply.tool_calls] == [
        ("c9", "query", '{"calls": "f(1)"}')
    ]
    assert (reply.prompt_tokens, reply.completion_tokens, reply.finish_reason) == (
        7,
        3,
        "tool_calls",
    )
    assert seen["tool_choice"] == "required" and seen["temperature"] == 0.0
    assert seen["num_retries"] == 0 and seen["timeout"] == 180.0


def test_rate_limits_are_retried_with_backoff(monkeypatch):
    attempts = []
    ok = litellm.ModelResponse(choices=[{"message": {"role": "assistant", "content": "ok"}}])

    def flaky(**kwargs):
        attempts.append(1)
        if len(attempts) < 3:
            raise _rate_limit()
        return ok

    monkeypatch.setattr(litellm, "completion", flaky)
    sleeps = []
    model = LiteLLMModel(
        "openai/gpt-4o-mini", sleep=sleeps.append, retry=RetryPolicy(initial_s=1.0, jitter=0.0)
    )
    reply = model.complete([{"role": "user", "content": "x"}])
    assert reply.content == "ok" and len(attempts) == 3
    assert sleeps == [1.0, 2.0] and model.usage.retries == 2


def test_transient_errors_give_up_as_retryable_model_error(monkeypatch):
    def down(**kwargs):
        raise _rate_limit()

    monkeypatch.setattr(litellm, "completion", down)
    sleeps = []
    model = LiteLLMModel("openai/gpt-x", sleep=sleeps.append, retry=RetryPolicy(max_retries=2))
    with pytest.raises(ModelError, match=r"openai/gpt-x: RateLimitError after 3 attempts") as info:
        model.complete([{"role": "user", "content": "x"}])
    assert info.value.retryable and len(sleeps) == 2


def test_non_transient_errors_are_not_retried():
    error = litellm.AuthenticationError("bad key", llm_provider="openai", model="gpt-x")
    sleeps = []
    model = LiteLLMModel(
        "openai/gpt-x", sleep=sleeps.append, completion_kwargs={"mock_response": error}
    )
    with pytest.raises(ModelError, match="AuthenticationError") as info:
        model.complete([{"role": "user", "content": "x"}])
    assert not info.value.retryable and sleeps == []


def test_context_overflow_is_its_own_error():
    error = litellm.ContextWindowExceededError("too long", model="gpt-x", llm_provider="openai")
    model = LiteLLMModel("openai/gpt-x", completion_kwargs={"mock_response": error})
    with pytest.raises(ContextOverflowError, match="openai/gpt-x: context window exceeded"):
        model.complete([{"role": "user", "content": "x"}])


def test_resolver_hook_supplies_litellm_kwargs():
    calls = []

    def resolver(name):
        calls.append(name)
        return {
            "model": "openai/smollm2",
            "api_base": "http://127.0.0.1:9/v1",
            "mock_response": "from local",
        }

    model = LiteLLMModel("local/smollm2", resolver=resolver)
    assert model.complete([{"role": "user", "content": "x"}]).content == "from local"
    assert calls == ["local/smollm2"] and model.name == "local/smollm2"


def test_bad_model_string():
    with pytest.raises(ValueError, match="model must be a non-empty provider string"):
        LiteLLMModel("")


def test_cost_map_env_is_set_before_import():
    assert os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP") == "True"
