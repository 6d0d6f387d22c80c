"""Sandbox fixtures: one started sandbox per backend per module, skipped when unavailable."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from codearc_env.sandbox import make_sandbox, unavailable_reason
from codearc_env.sandbox.base import Sandbox

BACKEND_PARAMS = [
    pytest.param("docker", marks=pytest.mark.docker, id="docker"),
    pytest.param("bwrap", marks=pytest.mark.bwrap, id="bwrap"),
    pytest.param("process", id="process"),
]


def require_backend(name: str) -> None:
    reason = unavailable_reason(name)
    if reason is not None:
        pytest.skip(f"{name} backend unavailable: {reason}")


def started(name: str) -> Sandbox:
    require_backend(name)
    box = make_sandbox(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend's insecurity warning
        box.start()
    return box


@pytest.fixture(scope="module")
def process_box() -> Iterator[Sandbox]:
    box = started("process")
    yield box
    box.close()


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def box(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A started sandbox of each backend in turn (docker and bwrap tests carry their marker)."""
    sandbox = started(request.param)
    yield sandbox
    sandbox.close()
