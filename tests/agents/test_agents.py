"""Agent loops against the toy environment, driven by scripted models."""

from __future__ import annotations

import toys

from codearc_env import trace as tr
from codearc_env.agents.baselines import ExamplesOnlyAgent, lookup_table_program
from codearc_env.agents.episode import run_episode
from codearc_env.agents.model import ContextOverflowError, ModelError
from codearc_env.agents.react import ReactAgent, ReactConfig
from codearc_env.agents.scripted import ScriptedModel, tool_reply
from codearc_env.agents.text import TextAgent

PID = "builtin/annotated/add0"
RIGHT = toys.solution("add0", 0)
WRONG = "def add0(a, b):\n    return a - b"
F = "```"


def play(agent, env, tmp_path, pid=PID):
    path = tmp_path / "trace.jsonl"
    with tr.TraceWriter(path) as writer:
        result = run_episode(agent, env, pid, model_name="scripted", writer=writer)
    return result, tr.read_trace(path)


def kinds(events):
    return [type(e).__name__ for e in events]


# ---- react ------------------------------------------------------------------------------
def test_react_queries_then_solves(toy_env, tmp_path):
    model = ScriptedModel(
        [
            tool_reply(("query", {"calls": "add0(100, 1)\nadd0(-1, -1)"})),
            tool_reply(("submit", {"code": RIGHT})),
        ]
    )
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert (result.status, result.n_io, result.n_oracle) == ("success", 12, 1)
    assert (result.paper_io, result.paper_oracle, result.turns) == (2, 1, 2)
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    tool_msgs = [e for e in events if isinstance(e, tr.ModelMessage) and e.role == "tool"]
    assert "add0(100, 1) -> 101" in tool_msgs[0].content
    assert tool_msgs[0].tool_call_id == "call_0"
    assert kinds(events)[0] == "EpisodeStart" and kinds(events)[-1] == "EpisodeEnd"
    verdicts = [e for e in events if isinstance(e, tr.VerdictEvent)]
    assert len(verdicts) == 1 and verdicts[0].passed and verdicts[0].final


def test_react_parallel_calls_run_in_order_and_all_get_answers(toy_env, tmp_path):
    model = ScriptedModel(
        [
            tool_reply(
                ("query", {"calls": "add0(1, 1)"}),
                ("submit", {"code": RIGHT}),
                ("query", {"calls": "add0(2, 2)"}),
            ),
        ]
    )
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert result.status == "success" and result.n_io == 11
    answers = [e.content for e in events if isinstance(e, tr.ModelMessage) and e.role == "tool"]
    assert len(answers) == 3
    assert answers[2] == "Not run: the episode is already over."


def test_react_counterexample_then_second_submission(toy_env, tmp_path):
    model = ScriptedModel(
        [
            tool_reply(("submit", {"code": WRONG})),
            tool_reply(("submit", {"code": RIGHT})),
        ]
    )
    result, _ = play(ReactAgent(model), toy_env, tmp_path)
    assert (result.status, result.n_oracle, result.paper_oracle) == ("success", 2, 2)
    assert "Incorrect" in model.requests[1]["messages"][-1]["content"]


def test_react_malformed_arguments_become_tool_errors(toy_env, tmp_path):
    model = ScriptedModel(
        [
            tool_reply(("submit", '{"code": 12}')),
            tool_reply(("submit", {"code": RIGHT})),
        ]
    )
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert result.status == "success" and result.invalid_replies == 1
    assert model.requests[1]["messages"][-1]["content"].startswith("Error: the submit tool needs")


def test_react_gives_up_after_replies_without_tool_calls(toy_env, tmp_path):
    model = ScriptedModel(["I am thinking.", "Still thinking."])
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert result.status == "failure"
    assert result.message == "2 replies in a row called no tool"
    assert (result.invalid_replies, result.paper_io, result.paper_oracle) == (2, 30, 2)
    assert sum(isinstance(e, tr.Error) and e.kind == "agent" for e in events) == 2


def test_react_forced_tool_choice_names_submit_when_queries_are_spent(toy_env, tmp_path):
    calls = "\n".join(f"add0({i}, 0)" for i in range(20))
    model = ScriptedModel(
        [
            tool_reply(("query", {"calls": calls})),
            tool_reply(("submit", {"code": RIGHT})),
        ]
    )
    agent = ReactAgent(model, ReactConfig(force_tool_choice=True))
    result, _ = play(agent, toy_env, tmp_path)
    assert result.status == "success" and result.paper_io == 20
    assert model.requests[0]["tool_choice"] == "required"
    assert model.requests[1]["tool_choice"] == {"type": "function", "function": {"name": "submit"}}


def test_budget_exhaustion_and_forced_final_attempt(toy_env, tmp_path):
    # 25 calls asked, 20 affordable; then a wrong submission; then the final attempt is
    # wasted on a query, which ends the episode (the env's rule for the forced final attempt).
    calls = "\n".join(f"add0({i}, 0)" for i in range(25))
    model = ScriptedModel(
        [
            tool_reply(("query", {"calls": calls})),
            tool_reply(("submit", {"code": WRONG})),
            tool_reply(("query", {"calls": "add0(1, 1)"})),
        ]
    )
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert (result.status, result.n_io, result.n_oracle) == ("failure", 30, 1)
    first = [e for e in events if isinstance(e, tr.Observation) and e.step == 1][0]
    assert "Only 20 of the 25 calls ran" in first.text
    assert "must be a submission" in model.requests[2]["messages"][-1]["content"]
    assert [e for e in events if isinstance(e, tr.EpisodeEnd)][0].paper_io == 30


def test_api_error_is_reported_apart(toy_env, tmp_path):
    model = ScriptedModel([ModelError("provider down", retryable=True)])
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert (result.status, result.message) == ("api_error", "provider down")
    err = [e for e in events if isinstance(e, tr.Error)][0]
    assert (err.kind, err.retryable) == ("api", True)


def test_context_overflow_is_a_graded_failure_recorded_apart(toy_env, tmp_path):
    model = ScriptedModel(
        [
            tool_reply(("query", {"calls": "add0(1, 1)"})),
            ContextOverflowError("scripted: context window exceeded"),
        ]
    )
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert result.status == "failure"
    assert result.message == "context overflow: scripted: context window exceeded"
    assert any(isinstance(e, tr.Error) and e.kind == "context_overflow" for e in events)


def test_exhausted_script_is_an_api_error(toy_env, tmp_path):
    result, _ = play(ReactAgent(ScriptedModel([])), toy_env, tmp_path)
    assert result.status == "api_error"
    assert result.message == "scripted model 'scripted' has no reply left (script of 0 steps)"


def test_agent_bug_is_agent_error_not_failure(toy_env, tmp_path):
    def broken(messages, tools):
        raise ZeroDivisionError("oops")

    result, _ = play(ReactAgent(ScriptedModel([broken])), toy_env, tmp_path)
    assert (result.status, result.message) == ("agent_error", "ZeroDivisionError: oops")


def test_teacher_prefix_is_privileged(toy_env, tmp_path):
    model = ScriptedModel([tool_reply(("submit", {"code": RIGHT}))])
    result, events = play(ReactAgent(model, ReactConfig(teacher=True)), toy_env, tmp_path)
    assert result.status == "success"
    first = [e for e in events if isinstance(e, tr.ModelMessage)][0]
    assert first.privileged and "stands for add0" in first.content
    assert sum(e.privileged for e in events if isinstance(e, tr.ModelMessage)) == 1


# ---- text protocol ----------------------------------------------------------------------
def test_text_agent_solves(toy_env, tmp_path):
    model = ScriptedModel(
        [
            f"Let me probe.\nINVOCATIONS\n{F}python\nprint('Result 1: ' + str(add0(5, 5)))\n"
            f"add0(0, 0)\n{F}",
            f"IMPLEMENTATION\n{F}python\n{RIGHT}\n{F}",
        ]
    )
    result, _ = play(TextAgent(model), toy_env, tmp_path)
    assert (result.status, result.n_io, result.paper_io) == ("success", 12, 2)
    first = model.requests[0]["messages"][0]["content"]
    assert "add0(0, -3) -> -3" in first and "20 queries" in first
    assert "add0(5, 5) -> 10" in model.requests[1]["messages"][-1]["content"]


def test_text_agent_mention_is_not_a_submission(toy_env, tmp_path):
    model = ScriptedModel(
        [
            "My IMPLEMENTATION will follow once I know more.",
            f"IMPLEMENTATION\n{F}python\n{RIGHT}\n{F}",
        ]
    )
    result, _ = play(TextAgent(model), toy_env, tmp_path)
    assert (result.status, result.invalid_replies, result.n_oracle) == ("success", 1, 1)
    assert "could not read an action" in model.requests[1]["messages"][-1]["content"]


def test_text_agent_fails_after_one_retry(toy_env, tmp_path):
    model = ScriptedModel(["no action here", "still none"])
    result, _ = play(TextAgent(model), toy_env, tmp_path)
    assert result.status == "failure" and result.invalid_replies == 2
    assert result.message.startswith("unreadable reply after 1 retries")
    assert len(model.requests) == 2


def test_text_agent_invalid_query_is_an_observation(toy_env, tmp_path):
    model = ScriptedModel(
        [
            f"INVOCATIONS\n{F}python\n__import__('os').system('true')\n{F}",
            f"IMPLEMENTATION\n{F}python\n{RIGHT}\n{F}",
        ]
    )
    result, _ = play(TextAgent(model), toy_env, tmp_path)
    assert result.status == "success" and result.n_io == 10
    assert "Invalid action" in model.requests[1]["messages"][-1]["content"]


# ---- baselines --------------------------------------------------------------------------
def test_examples_only_with_model_asks_once(toy_env, tmp_path):
    model = ScriptedModel([f"Here:\n{F}python\n{RIGHT}\n{F}"])
    result, _ = play(ExamplesOnlyAgent(model), toy_env, tmp_path)
    assert (result.status, result.n_io, len(model.requests)) == ("success", 10, 1)


def test_examples_only_without_model_submits_a_table(toy_env, tmp_path):
    result, events = play(ExamplesOnlyAgent(), toy_env, tmp_path)
    assert result.status == "failure" and result.n_io == 10 and result.n_oracle == 1
    submitted = [e for e in events if isinstance(e, tr.ToolCall)][0].text
    assert "'((0, -3), [])': (False, -3)," in submitted


def test_lookup_table_program_is_plain_literals():
    import ast

    src = lookup_table_program(
        "f", ["f(1)", "f('a', k=[1])", "f(x)", "f(2)"], ["2", "oops", "3", "big"], [0, 1, 0, 0]
    )
    table = ast.parse(src).body[0].value
    keys = [ast.literal_eval(k) for k in table.keys]
    # f(x) has a non-literal argument: left out; outputs parse back to values when literal.
    assert keys == ["((1,), [])", "(('a',), [('k', [1])])", "((2,), [])"]
    assert ast.literal_eval(table.values[0]) == (False, 2)
    assert ast.literal_eval(table.values[2]) == (False, "big")
    errored = table.values[1].elts[1]
    assert ast.unparse(errored) == "Exception('oops')"


def test_unexpected_env_exception_is_an_infra_error(toy_env, tmp_path):
    class Broken:
        def __init__(self, env):
            self.env = env

        def reset(self, **kw):
            return self.env.reset(**kw)

        def step(self, action):
            raise ImportError("cannot import name 'Oracle'")

    model = ScriptedModel([tool_reply(("submit", {"code": RIGHT}))])
    result, events = play(ReactAgent(model), Broken(toy_env), tmp_path)
    assert result.status == "infra_error"
    assert result.message == (
        "HarnessFailure: the environment failed: ImportError: cannot import name 'Oracle'"
    )


def test_huge_lines_are_clipped_for_the_model_but_kept_in_the_trace(toy_env, tmp_path):
    big = "9" * 3000  # the line "add0(big, 0) -> big" is about 6000 characters
    model = ScriptedModel(
        [
            tool_reply(("query", {"calls": f"add0({big}, 0)\nadd0(1, 2)"})),
            tool_reply(("submit", {"code": RIGHT})),
        ]
    )
    result, events = play(ReactAgent(model), toy_env, tmp_path)
    assert result.status == "success"
    (shown,) = [e for e in events if isinstance(e, tr.ModelMessage) and e.role == "tool"][:1]
    first, second = shown.content.splitlines()[:2]
    assert len(first) < 4100 and first.endswith("more characters]")
    assert second == "add0(1, 2) -> 3"  # the other results stay in view
    observed = [e for e in events if isinstance(e, tr.Observation)]
    assert any(big in e.text for e in observed)  # the trace keeps the whole value


def test_shown_clips_each_long_line_only():
    from codearc_env.agents.episode import Episode

    ep = Episode(env=None, problem=None, problem_id="p", agent="a", model="m")
    ep.shown_line_chars = 5
    assert ep.shown("abc\nabcdefgh\n") == "abc\nabcde [... 3 more characters]\n"
    assert ep.shown("a\rb\x0c\nabcdefgh") == "a\rb\x0c\nabcde [... 3 more characters]"
    assert ep.shown("short\nlines") == "short\nlines"
    ep.shown_line_chars = None
    assert ep.shown("x" * 10_000) == "x" * 10_000
