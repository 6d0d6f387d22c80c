"""Sandboxed execution of hidden functions and candidates (docker, bwrap, process).

    from codearc_env.sandbox import make_sandbox
    with make_sandbox() as box:          # the strongest backend available here
        [result] = box.run(source, "f", [Invocation(args=(3,))])

Importing this package starts nothing and contacts no docker engine.
"""

from __future__ import annotations

from codearc_env.errors import SandboxUnavailableError
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Limits, Sandbox
from codearc_env.sandbox.bwrap import BwrapSandbox
from codearc_env.sandbox.docker_backend import DockerSandbox
from codearc_env.sandbox.process import InsecureSandboxWarning, ProcessSandbox

BACKENDS: dict[str, type[Sandbox]] = {
    "docker": DockerSandbox,
    "bwrap": BwrapSandbox,
    "process": ProcessSandbox,
}
"""Backend name -> class, strongest first."""
SECURE_BACKENDS = ("docker", "bwrap")
"""The order ``make_sandbox()`` tries when no backend is named; ``process`` never qualifies."""


def unavailable_reason(name: str) -> str | None:
    """None when the backend can run here, else why not."""
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; choose from {', '.join(BACKENDS)}")
    cls = BACKENDS[name]
    if name == "process":
        return None if ProcessSandbox.available() else "the process backend needs Linux"
    return cls.unavailable_reason()


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine, strongest first."""
    return [name for name in BACKENDS if unavailable_reason(name) is None]


def make_sandbox(backend: str | None = None, limits: Limits | None = None) -> Sandbox:
    """A sandbox (not started). None picks docker, else bwrap; ``process`` only when named."""
    if backend is None:
        reasons = []
        for name in SECURE_BACKENDS:
            reason = unavailable_reason(name)
            if reason is None:
                return BACKENDS[name](limits)
            reasons.append(f"{name}: {reason}")
        raise SandboxUnavailableError(
            "no secure sandbox backend is available (" + "; ".join(reasons) + "). "
            "Install docker or bubblewrap, or name backend='process' for development only."
        )
    reason = unavailable_reason(backend)
    if reason is not None:
        raise SandboxUnavailableError(f"the {backend} sandbox backend is unavailable: {reason}")
    return BACKENDS[backend](limits)


__all__ = [
    "BACKENDS",
    "BackendInfo",
    "CallResult",
    "InsecureSandboxWarning",
    "Invocation",
    "Limits",
    "Sandbox",
    "available_backends",
    "make_sandbox",
    "unavailable_reason",
]
