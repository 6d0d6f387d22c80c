"""Fixtures for the embedded local model (pip extra ``local``): skip cleanly when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def local_model_missing() -> str | None:
    """Why the embedded model cannot run here, or None when it can."""
    from codearc_env.agents.local_model import (
        LocalModelError,
        check_server_installed,
        smollm2_gguf,
    )

    try:
        check_server_installed()
        smollm2_gguf()
    except LocalModelError as exc:
        return str(exc)
    return None


@pytest.fixture
def needs_local_model() -> None:
    """Skip the test unless llama-cpp-python and the SmolLM2 package are installed."""
    reason = local_model_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def smollm2_kwargs() -> Iterator[dict[str, str]]:
    """litellm kwargs for local/smollm2; the server is stopped when the session ends."""
    reason = local_model_missing()
    if reason:
        pytest.skip(reason)
    from codearc_env.agents.local_model import resolve_local_model
    from codearc_env.agents.local_server import stop_all

    try:
        yield resolve_local_model("local/smollm2")
    finally:
        stop_all()
