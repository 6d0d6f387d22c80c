"""The run summary: paper-convention metrics, errors apart, published numbers by model."""

from __future__ import annotations

import pytest
from codearc_env.agents.episode import EpisodeResult
from codearc_env.agents.summary import published_name, summarize, summary_table


def r(pid, status, variant="annotated", source="apps", paper_io=30, paper_oracle=2, **kw):
    return EpisodeResult(
        problem_id=pid,
        status=status,
        variant=variant,
        source=source,
        paper_io=paper_io,
        paper_oracle=paper_oracle,
        **kw,
    )


def test_paper_convention_and_errors_apart():
    results = [
        r("annotated/1", "success", paper_io=4, paper_oracle=1, prompt_tokens=10, cost_usd=0.5),
        r("annotated/2", "failure"),
        r("annotated/3", "api_error"),
        r("annotated/4", "infra_error", source="mbpp+"),
        r("anonymized/1", "success", variant="anonymized", paper_io=0, paper_oracle=2),
    ]
    s = summarize(results, model="openai/gpt-4o-mini")
    ann = s["variants"]["annotated"]
    assert (ann["episodes"], ann["graded"], ann["solved"]) == (4, 2, 1)
    assert ann["success_pct"] == 50.0
    assert (ann["paper_io"], ann["paper_oracle"]) == (17.0, 1.5)  # (4 + 30) / 2, (1 + 2) / 2
    assert (ann["api_errors"], ann["infra_errors"]) == (1, 1)
    assert ann["published_success_pct"] == 26.1
    assert s["variants"]["anonymized"]["published_success_pct"] == 18.5
    assert ann["sources"]["mbpp+"]["graded"] == 0 and ann["sources"]["mbpp+"]["success_pct"] is None
    assert s["total"]["prompt_tokens"] == 10 and s["total"]["cost_usd"] == 0.5
    assert s["comparable_with_published"] is True


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic/claude-3-7-sonnet-20250219", "claude-3.7-sonnet"),
        ("together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "Llama-3.1-8B"),
        ("deepseek/deepseek-reasoner", "DeepSeek-R1"),
        ("openrouter/qwen/qwen2.5-72b-instruct", "Qwen2.5-72B"),
        ("openai/gpt-4.1", None),
        ("local/smollm2", None),
    ],
)
def test_published_name(model, name):
    assert published_name(model) == name


def test_not_main_setting_is_marked_and_table_renders():
    s = summarize(
        [r("annotated/1", "success", paper_io=1, paper_oracle=1)],
        model="openai/o3-mini",
        main_setting=False,
    )
    assert s["published_model"] == "o3-mini" and s["comparable_with_published"] is False
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(summary_table(s))
    text = console.export_text()
    assert "published as o3-mini (not the main setting)" in text and "59.5" in text
