"""make_sandbox, available_backends and BACKENDS; the process backend's warning."""

from __future__ import annotations

import pytest

from codearc_env.errors import SandboxUnavailableError
from codearc_env.sandbox import (
    BACKENDS,
    InsecureSandboxWarning,
    available_backends,
    make_sandbox,
    unavailable_reason,
)
from codearc_env.sandbox.base import Invocation
from codearc_env.sandbox.process import INSECURE_WARNING, ProcessSandbox


def test_backends_map_names_to_classes() -> None:
    assert list(BACKENDS) == ["docker", "bwrap", "process"]
    assert all(cls.name == name for name, cls in BACKENDS.items())


def test_unknown_backend_is_rejected_with_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"^unknown sandbox backend 'vm'; choose from docker, bwrap, process$"
    ):
        make_sandbox("vm")


def test_default_never_picks_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import codearc_env.sandbox as registry

    real = registry.unavailable_reason
    monkeypatch.setattr(
        registry, "unavailable_reason", lambda n: "off" if n != "process" else real(n)
    )
    with pytest.raises(SandboxUnavailableError, match="no secure sandbox backend is available"):
        make_sandbox()


def test_default_prefers_docker_then_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    import codearc_env.sandbox as registry

    monkeypatch.setattr(registry, "unavailable_reason", lambda n: None if n == "bwrap" else "off")
    assert make_sandbox().name == "bwrap"
    monkeypatch.setattr(registry, "unavailable_reason", lambda n: None)
    assert make_sandbox().name == "docker"


def test_available_backends_agree_with_reasons() -> None:
    assert available_backends() == [n for n in BACKENDS if unavailable_reason(n) is None]
    assert "process" in available_backends()


def test_process_backend_warns_every_time_it_starts() -> None:
    box = make_sandbox("process")
    assert isinstance(box, ProcessSandbox)
    for _ in range(2):
        with pytest.warns(InsecureSandboxWarning, match="NOT a security boundary"):
            box.start()
        box.close()
    assert "NOT a security boundary" in INSECURE_WARNING
    assert box.info().is_security_boundary is False


def test_close_is_idempotent_and_start_after_close_works() -> None:
    box = make_sandbox("process")
    with pytest.warns(InsecureSandboxWarning), box:
        assert box.run_one("def f():\n    return 1\n", "f", Invocation()).value_str == "1"
    box.close()
    box.close()


def test_a_failed_preexec_is_a_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """subprocess reports a failing preexec_fn (cgroup join, setuid) as SubprocessError."""
    import subprocess
    import warnings

    from codearc_env.errors import SandboxError
    from codearc_env.sandbox.process import ProcessSandbox

    def refuse(*args: object, **kwargs: object) -> None:
        raise subprocess.SubprocessError("Exception occurred in preexec_fn.")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    box = ProcessSandbox()
    with warnings.catch_warnings(), pytest.raises(SandboxError) as caught:
        warnings.simplefilter("ignore")
        box.start()
    assert str(caught.value).startswith(
        "cannot launch the process sandbox: Exception occurred in preexec_fn."
    )
