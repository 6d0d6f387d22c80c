"""The Python examples of docs/agents.md run as written (real environment, built-in suite)."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "agents.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _block_after(heading: str, language: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    tail = text[text.index(heading) :]
    return re.search(rf"```{language}\n(.*?)```", tail, re.S).group(1)


@pytest.mark.slow
def test_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_block_after("## Python API", "python"), "docs/agents.md", "exec"), {})
    graded, pass1, pass2 = capsys.readouterr().out.split()
    summary = json.loads((tmp_path / "runs/python-demo/summary.json").read_text())
    assert int(graded) == summary["total"]["graded"] == 4  # 2 problems x 2 samples
    assert (float(pass1), float(pass2)) == (0.0, 0.0)  # returning None solves neither
    assert summary["total"]["pass@2_problems"] == 2


@pytest.mark.slow
def test_own_model_example_runs_from_the_command_line(tmp_path, monkeypatch, capsys):
    from codearc_env.cli import main

    (tmp_path / "mymodels.py").write_text(_block_after("### A model of your own", "python"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    command = next(b for b in _blocks("bash") if "py:mymodels:make" in b).strip()
    argv = shlex.split(command)[1:] + ["--limit", "2", "--no-progress"]
    try:
        assert main(argv) == 0
    finally:
        sys.modules.pop("mymodels", None)
    rows = [
        json.loads(x) for x in (tmp_path / "runs/constant/results.jsonl").read_text().splitlines()
    ]
    assert [(r["model"], r["status"], r["turns"]) for r in rows] == [
        ("demo/constant-1", "failure", 2)
    ] * 2
    assert (
        capsys.readouterr().out.rstrip("\n").split("\n")[-1]
        == "summary: runs/constant/summary.json"
    )
