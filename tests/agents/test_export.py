"""Trace export: OpenAI chat fine-tuning JSONL and TRL conversations, loaded by datasets."""

from __future__ import annotations

import json

import pytest
import toys

from codearc_env.agents.evaluate import EvalConfig, evaluate
from codearc_env.agents.export import export
from codearc_env.agents.runner import Task
from codearc_env.agents.scripted import ScriptedModel, tool_reply
from codearc_env.errors import CodeARCError

F = "```"


def _react_script(messages, tools):
    name = toys.target_of(messages)
    k = int(name[3:])
    if k % 2:  # odd problems fail: two wrong submissions
        return tool_reply(("submit", {"code": f"def {name}(a, b):\n    return 0"}))
    return toys.solving_script(messages, tools)


def _collect(out, agent="react", teacher=False, n=4):
    problems, _, _ = toys.toy_suite(n)
    if agent == "react":
        factory = lambda: ScriptedModel([_react_script], repeat_last=True)  # noqa: E731
    else:

        def step(messages, tools):
            name = toys.target_of(messages)
            return f"Plan.\nIMPLEMENTATION\n{F}python\n{toys.solution(name, int(name[3:]))}\n{F}"

        factory = lambda: ScriptedModel([step], repeat_last=True)  # noqa: E731
    cfg = EvalConfig(out_dir=out, agent=agent, model="scripted", split="builtin", teacher=teacher)
    return evaluate(
        cfg,
        model_factory=factory,
        env_factory=lambda v: toys.make_env(n),
        tasks=[Task(p.problem_id, "annotated") for p in problems],
    )


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_openai_export_keeps_tool_calls_and_loads_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    _collect(tmp_path / "run")
    out = tmp_path / "openai.jsonl"
    stats = export(tmp_path / "run", out, "openai")
    assert (stats.episodes, stats.written) == (4, 4)
    rows = _rows(out)
    first = rows[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant", "tool", "assistant"]
    call = first[2]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "query"
    assert json.loads(call["function"]["arguments"]) == {"calls": "add0(100, 1)"}
    assert first[2]["content"] is None and first[3]["tool_call_id"] == call["id"]
    assert {t["function"]["name"] for t in rows[0]["tools"]} == {"query", "submit"}
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == 4
    assert ds[0]["messages"][2]["tool_calls"][0]["function"]["name"] == "query"


def test_trl_export_only_successful(tmp_path):
    datasets = pytest.importorskip("datasets")
    _collect(tmp_path / "run")
    out = tmp_path / "trl.jsonl"
    stats = export(tmp_path / "run", out, "trl", only_successful=True)
    assert (stats.written, stats.skipped_unsuccessful) == (2, 2)
    rows = _rows(out)
    msgs = rows[0]["messages"]
    assert msgs[2]["tool_calls"][0]["function"]["arguments"] == {"calls": "add0(100, 1)"}
    assert msgs[3]["name"] == "query"
    assert msgs[-1]["tool_calls"][0]["function"]["arguments"] == {"code": toys.solution("add0", 0)}
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == 2 and ds.column_names == ["messages", "tools", "metadata"]


def test_teacher_prefix_never_reaches_student_traces(tmp_path):
    _collect(tmp_path / "run", teacher=True, n=2)
    raw = (tmp_path / "run" / "traces" / "builtin__annotated__add0.jsonl").read_text()
    assert "PRIVATE NOTE FOR THE DEMONSTRATOR" in raw
    out = tmp_path / "student.jsonl"
    export(tmp_path / "run", out, "openai", only_successful=True)
    text = out.read_text()
    assert "PRIVATE NOTE" not in text and "stands for add0" not in text
    assert _rows(out)[0]["messages"][0]["role"] == "system"


def test_text_protocol_export_has_no_tools(tmp_path):
    datasets = pytest.importorskip("datasets")
    _collect(tmp_path / "run", agent="text", n=2)
    out = tmp_path / "text.jsonl"
    export(tmp_path / "run", out, "trl")
    rows = _rows(out)
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert "tools" not in rows[0]
    assert datasets.load_dataset("json", data_files=str(out), split="train").num_rows == 2


def test_export_errors(tmp_path):
    with pytest.raises(CodeARCError, match="no traces at"):
        export(tmp_path / "missing", tmp_path / "o.jsonl", "openai")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CodeARCError, match="no trace files"):
        export(tmp_path / "empty", tmp_path / "o.jsonl", "openai")
    with pytest.raises(ValueError, match="format must be one of openai, trl, not 'csv'"):
        export(tmp_path / "empty", tmp_path / "o.jsonl", "csv")
