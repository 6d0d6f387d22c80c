"""LiteLLMModel against a real HTTP exchange: time-outs, Retry-After, the seed, the timeout.

The provider is tests/agents/fake_provider.py on 127.0.0.1: no network.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from fake_provider import fake_provider

from codearc_env.agents.model import LiteLLMModel, ModelError, RetryPolicy, retry_after_seconds

litellm = pytest.importorskip("litellm")

HI = [{"role": "user", "content": "hi"}]


def _model(base: str, sleeps: list[float], retry: RetryPolicy, **options) -> LiteLLMModel:
    """A model of the fake provider at ``base`` that records its waits in ``sleeps``."""
    return LiteLLMModel(
        "openai/m",
        api_base=base,
        sleep=sleeps.append,
        retry=retry,
        completion_kwargs={"api_key": "sk-test"},
        **options,
    )


def test_a_timed_out_request_is_retried():
    sleeps: list[float] = []
    # The first answer comes after the client's timeout; the retry gets an answer at once.
    with fake_provider([200], reply="late but fine", delays=[3.0, 0.0]) as (base, provider):
        retry = RetryPolicy(max_retries=2, initial_s=4.0, jitter=0.0)
        model = _model(base, sleeps, retry, timeout_s=0.5)
        reply = model.complete(HI)
    assert reply.content == "late but fine"
    assert len(provider.requests) == 2 and sleeps == [4.0] and model.usage.retries == 1


def test_time_outs_give_up_as_a_retryable_model_error():
    sleeps: list[float] = []
    with fake_provider([200], delays=[3.0]) as (base, provider):
        model = _model(base, sleeps, RetryPolicy(max_retries=1, jitter=0.0), timeout_s=0.3)
        with pytest.raises(ModelError, match=r"^openai/m: Timeout after 2 attempts") as info:
            model.complete(HI)
    assert info.value.retryable and len(provider.requests) == 2 and sleeps == [2.0]


def test_retry_after_from_the_provider_is_honoured():
    sleeps: list[float] = []
    with fake_provider([429, 200], reply="ok", retry_after="1") as (base, provider):
        # A policy wait that cannot be mistaken for the header's one second.
        model = _model(base, sleeps, RetryPolicy(initial_s=7.0, jitter=0.0))
        assert model.complete(HI).content == "ok"
    assert sleeps == [1.0] and len(provider.requests) == 2


def test_retry_after_longer_than_the_policy_allows_falls_back_to_backoff():
    sleeps: list[float] = []
    with fake_provider([429, 200], reply="ok", retry_after="3600") as (base, _):
        model = _model(base, sleeps, RetryPolicy(initial_s=7.0, jitter=0.0, max_s=60.0))
        model.complete(HI)
    assert sleeps == [7.0]


def test_retry_after_header_forms(caplog):
    assert retry_after_seconds(httpx.Headers({"Retry-After": "2"})) == 2.0
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    date = "Thu, 03 Dec 2026 10:00:30 GMT"
    now = 1796292000.0  # 2026-12-03 10:00:00 UTC
    assert retry_after_seconds(httpx.Headers({"Retry-After": date}), now=now) == 30.0
    assert retry_after_seconds(httpx.Headers({})) is None
    assert retry_after_seconds(None) is None
    with caplog.at_level(logging.WARNING, logger="codearc_env.agents.model"):
        assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert "ignoring an unreadable Retry-After header: 'soon'" in caplog.text


def test_only_the_seed_is_dropped_for_a_provider_without_one(completion_calls):
    calls = completion_calls
    extra = {"seed": 3, "reasoning_effort": "low", "mock_response": "hi"}
    LiteLLMModel("anthropic/claude-3-7-sonnet-20250219", completion_kwargs=extra).complete(HI)
    LiteLLMModel("openai/o3-mini", completion_kwargs=extra).complete(HI)
    anthropic, openai = calls
    assert "seed" not in anthropic and anthropic["reasoning_effort"] == "low"
    assert openai["seed"] == 3 and openai["reasoning_effort"] == "low"
    assert "drop_params" not in anthropic and "drop_params" not in openai


def test_an_unsupported_parameter_is_not_dropped_silently():
    # Only the seed is ever removed: anything else the provider cannot take is an error.
    model = LiteLLMModel(
        "anthropic/claude-x", completion_kwargs={"seed": 3, "logit_bias": {"1": 2}}
    )
    with pytest.raises(ModelError, match="UnsupportedParamsError"):
        model.complete(HI)
