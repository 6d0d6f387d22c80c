"""The run summary: paper-convention metrics, errors apart, published numbers by model."""

from __future__ import annotations

import pytest

from codearc_env.agents.episode import EpisodeResult
from codearc_env.agents.summary import (
    paper_setting_gaps,
    pass_at_k,
    published_name,
    summarize,
    summary_table,
)


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


def test_published_rate_only_in_the_papers_setting():
    s = summarize(
        [r("annotated/1", "success", paper_io=1, paper_oracle=1)],
        model="openai/o3-mini",
        not_comparable=["split 'builtin' (the paper used all 1114 problems)"],
    )
    assert s["published_model"] == "o3-mini" and s["comparable_with_published"] is False
    assert s["variants"]["annotated"]["published_success_pct"] is None
    assert s["published_note"] == (
        "not the paper's setting: split 'builtin' (the paper used all 1114 problems)"
    )
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(summary_table(s))
    text = console.export_text()
    assert "published as o3-mini" in text and "59.5" not in text
    assert "published %: blank because not the paper's setting: split 'builtin'" in text


def test_unknown_model_has_a_blank_published_column_with_a_note():
    s = summarize([r("annotated/1", "failure")], model="openai/gpt-4.1")
    assert s["variants"]["annotated"]["published_success_pct"] is None
    assert s["published_note"] == "the paper did not evaluate this model"


@pytest.mark.parametrize(
    ("settings", "gaps"),
    [
        ({"split": "all", "b_io": 30, "b_oracle": 2, "problems": None, "limit": None}, []),
        (
            {"split": "clean", "b_io": 20, "b_oracle": 2, "problems": ["1"], "limit": 5},
            [
                "split 'clean' (the paper used all 1114 problems)",
                "a chosen subset of problems (--problems)",
                "the first 5 problems only (--limit)",
                "b_io 20 (the paper's is 30)",
            ],
        ),
    ],
)
def test_paper_setting_gaps(settings, gaps):
    assert paper_setting_gaps(settings) == gaps


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 0, 1, 0.0),
        (5, 5, 5, 1.0),
        (5, 2, 1, 0.4),  # c / n
        (5, 2, 5, 1.0),  # n - c < k: some draw of k always holds a success
        (4, 1, 2, 0.5),  # 1 - C(3, 2) / C(4, 2) = 1 - 3/6
        (10, 3, 3, 1 - 35 / 120),  # 1 - C(7, 3) / C(10, 3)
    ],
)
def test_pass_at_k_is_the_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(
        ValueError, match=r"pass@k needs 0 <= c <= n and 1 <= k <= n \(n=2, c=3, k=1\)"
    ):
        pass_at_k(2, 3, 1)


def test_pass_at_k_is_averaged_per_problem_over_graded_samples():
    results = [
        r("annotated/1", "success", sample=0),
        r("annotated/1", "failure", sample=1),
        r("annotated/1", "failure", sample=2),
        r("annotated/2", "success", sample=0),
        r("annotated/2", "success", sample=1),
        r("annotated/2", "success", sample=2),
        # Two graded samples only: enters pass@1 but not pass@3.
        r("annotated/3", "failure", sample=0),
        r("annotated/3", "failure", sample=1),
        r("annotated/3", "api_error", sample=2),
    ]
    s = summarize(results, model="scripted", samples=3)
    t = s["total"]
    assert t["pass@1"] == pytest.approx(round(100 * (1 / 3 + 1 + 0) / 3, 2))
    assert (t["pass@1_problems"], t["pass@3_problems"]) == (3, 2)
    assert t["pass@3"] == 100.0  # problems 1 and 2 each have a success among their 3
    from rich.console import Console

    console = Console(record=True, width=250)
    console.print(summary_table(s))
    assert "pass@3" in console.export_text()
