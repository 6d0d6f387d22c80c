"""The model contract, and a litellm-backed model for any provider.

``litellm`` is imported on the first call, never at import time: it is slow to import and,
unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set, fetches a price list over the network.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from codearc_env.errors import CodeARCError
from codearc_env.trace import ToolCallRequest

log = logging.getLogger(__name__)

Message = Mapping[str, Any]
ToolChoice = str | Mapping[str, Any] | None
Resolver = Callable[[str], Mapping[str, Any] | None]
"""Turns a model string into litellm keyword arguments, or None when it does not apply."""


class ModelError(CodeARCError):
    """A model call failed for a reason outside the agent: provider down, auth, quota.

    ``retryable`` says whether trying the whole episode again later may help.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ContextOverflowError(ModelError):
    """The conversation no longer fits in the model's context window."""


class RequestRejectedError(ModelError):
    """The provider cannot accept this request (bad request, unprocessable entity). Before
    the model has answered anything in a run this means every request is malformed (a wrong
    parameter, an unsupported option) and the run stops; after, it is about one conversation
    and ends that episode as an API error."""


class FatalModelError(ModelError):
    """A provider error that every later request would meet as well: a rejected key, a
    missing permission, an unknown model, a request the provider cannot accept. Retrying
    would only burn time, so an evaluation stops at the first one (exit code 2) and stays
    resumable once the cause is fixed."""


@dataclass(frozen=True)
class ModelReply:
    """One assistant turn, with what it cost."""

    content: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    finish_reason: str = ""


class Model(Protocol):
    """Anything that answers a chat conversation, optionally with tool calls."""

    name: str

    def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
    ) -> ModelReply: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for rate limits and transient provider errors."""

    max_retries: int = 5
    """Retries after the first attempt; 0 disables retrying."""
    initial_s: float = 2.0
    multiplier: float = 2.0
    max_s: float = 60.0
    jitter: float = 0.25
    """Each wait is scaled by a random factor in [1 - jitter, 1 + jitter]."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.multiplier**attempt)
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


@dataclass
class Usage:
    """Running totals over every call of one model object (thread-safe)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, reply: ModelReply, retries: int) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += reply.prompt_tokens
            self.completion_tokens += reply.completion_tokens
            self.cost_usd += reply.cost_usd
            self.retries += retries


def default_resolver(model: str) -> Mapping[str, Any] | None:
    """``local/...`` models are served by the embedded server (agents/local_model.py)."""
    if not model.startswith("local/"):
        return None
    try:
        from codearc_env.agents.local_model import resolve_local_model
    except ImportError as exc:
        raise ModelError(f"local models are not available: {exc}") from None
    return resolve_local_model(model)


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class LiteLLMModel:
    """A chat model reached through ``litellm.completion`` (any provider string).

    Rate limits and transient errors are retried with backoff; after ``retry.max_retries``
    they become :class:`ModelError` (``retryable=True``), which the runner reports as an API
    failure rather than a wrong answer. A context overflow raises
    :class:`ContextOverflowError` at once.
    """

    def __init__(
        self,
        model: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout_s: float = 180.0,
        retry: RetryPolicy | None = None,
        resolver: Resolver | None = default_resolver,
        completion_kwargs: Mapping[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        api_base: str | None = None,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ValueError("model must be a non-empty provider string, e.g. 'openai/gpt-4o'")
        self.name = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._resolver = resolver
        self._extra = dict(completion_kwargs or {})
        if api_base:
            self._extra["api_base"] = api_base
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.usage = Usage()

    def _request(
        self, messages: Sequence[Message], tools: Any, tool_choice: ToolChoice
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.name}
        resolved = self._resolver(self.name) if self._resolver else None
        if resolved:
            kwargs.update(resolved)
        kwargs.update(messages=[dict(m) for m in messages], timeout=self.timeout_s, num_retries=0)
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if tools:
            kwargs["tools"] = [dict(t) for t in tools]
            if tool_choice is not None:
                kwargs["tool_choice"] = tool_choice
        kwargs.update(self._extra)
        return kwargs

    def _drop_unsupported_seed(self, litellm: Any, kwargs: dict[str, Any]) -> None:
        """Remove ``seed`` when litellm knows the provider does not take one. Only the seed
        is dropped: any other unsupported parameter still fails loudly."""
        if "seed" not in kwargs:
            return
        try:
            model, provider, _, _ = litellm.get_llm_provider(kwargs["model"])
            supported = litellm.get_supported_openai_params(
                model=model, custom_llm_provider=provider
            )
        except Exception as exc:  # unknown provider: send the seed and let it answer
            log.debug("cannot tell whether %s takes a seed: %s", kwargs["model"], exc)
            return
        if supported is not None and "seed" not in supported:
            del kwargs["seed"]

    def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
    ) -> ModelReply:
        litellm = _import_litellm()
        import openai  # litellm's exceptions all derive from openai's

        kwargs = self._request(messages, tools, tool_choice)
        self._drop_unsupported_seed(litellm, kwargs)
        fatal = (
            litellm.AuthenticationError,
            litellm.PermissionDeniedError,
            litellm.NotFoundError,
        )
        rejected = (
            litellm.BadRequestError,  # includes UnsupportedParamsError
            litellm.UnprocessableEntityError,
        )
        transient = (
            litellm.RateLimitError,
            litellm.Timeout,  # an openai.APITimeoutError, not a litellm.APIConnectionError
            litellm.APIConnectionError,
            litellm.ServiceUnavailableError,
            litellm.InternalServerError,
            litellm.BadGatewayError,
        )
        attempt = 0
        while True:
            start = time.monotonic()
            try:
                response = litellm.completion(**kwargs)
            except litellm.ContextWindowExceededError as exc:
                raise ContextOverflowError(f"{self.name}: context window exceeded: {exc}") from None
            except litellm.ContentPolicyViolationError as exc:
                # About this conversation only: other problems may go through.
                raise ModelError(f"{self.name}: {type(exc).__name__}: {exc}") from None
            except fatal as exc:
                raise FatalModelError(f"{self.name}: {type(exc).__name__}: {exc}") from None
            except rejected as exc:
                raise RequestRejectedError(f"{self.name}: {type(exc).__name__}: {exc}") from None
            except transient as exc:
                if attempt >= self.retry.max_retries:
                    raise ModelError(
                        f"{self.name}: {type(exc).__name__} after {attempt + 1} attempts: {exc}",
                        retryable=True,
                    ) from None
                self._sleep(self._wait(exc, attempt))
                attempt += 1
                continue
            except openai.OpenAIError as exc:
                # Any other provider error: retrying the same request at once will not help,
                # but a later run of the episode might.
                raise ModelError(f"{self.name}: {type(exc).__name__}: {exc}") from None
            reply = self._parse(litellm, response, time.monotonic() - start)
            self.usage.add(reply, attempt)
            return reply

    def _wait(self, exc: Exception, attempt: int) -> float:
        """Seconds to wait before retry ``attempt + 1``: the provider's Retry-After when it
        sends a usable one (at most ``retry.max_s``), else the policy's backoff with jitter."""
        response = getattr(exc, "response", None)
        retry_after = retry_after_seconds(getattr(response, "headers", None))
        if retry_after is not None and 0 < retry_after <= self.retry.max_s:
            return retry_after
        return self.retry.delay(attempt, self._rng)

    def _parse(self, litellm: Any, response: Any, duration_s: float) -> ModelReply:
        choice = response.choices[0]
        message = choice.message
        calls = []
        for i, tc in enumerate(getattr(message, "tool_calls", None) or ()):
            fn = tc.function
            calls.append(
                ToolCallRequest(
                    id=tc.id or f"call_{i}",
                    name=fn.name or "",
                    arguments=fn.arguments if isinstance(fn.arguments, str) else "",
                )
            )
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # unknown price (local or new models): count tokens, not dollars
            cost = 0.0
        return ModelReply(
            content=message.content or "",
            tool_calls=tuple(calls),
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=cost,
            duration_s=duration_s,
            finish_reason=str(choice.finish_reason or ""),
        )


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """The wait a ``Retry-After`` (or ``retry-after-ms``) header asks for, in seconds: a
    number of seconds or an HTTP date (RFC 9110). None when absent or unreadable."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return float(millis) / 1000.0
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        log.warning("ignoring an unreadable Retry-After header: %r", value)
        return None
    return when.timestamp() - (time.time() if now is None else now)
