"""The summary of a run: success %, #I/O and #Oracle by the paper's convention, costs.

Only graded episodes (``success`` / ``failure``) enter success rates and means; API, infra
and agent errors are counted apart and never as wrong answers. #I/O and #Oracle follow the
paper: a failed problem counts B_io and B_oracle, a solved one the extra queries and the
oracle calls it used (computed per episode, see :class:`EpisodeResult`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from codearc_env.agents.episode import EpisodeResult

# Success % in the paper's main table (CODEARC-SPEC section 2): (annotated, anonymized).
PUBLISHED: dict[str, tuple[float, float]] = {
    "o3-mini": (59.5, 52.7),
    "o1-mini": (53.2, 47.7),
    "DeepSeek-R1": (49.8, 41.3),
    "claude-3.7-sonnet": (39.0, 33.8),
    "gpt-4o": (37.8, 28.7),
    "DeepSeek-V3": (37.7, 29.5),
    "Llama-3.1-405B": (38.6, 26.7),
    "gpt-4o-mini": (26.1, 18.5),
    "Qwen2.5-72B": (30.1, 21.6),
    "Llama-3.1-70B": (30.1, 20.0),
    "Qwen2.5-7B": (29.2, 15.8),
    "Llama-3.1-8B": (19.3, 13.7),
    "Llama-3.2-3B": (11.0, 4.8),
}
# How provider strings name those models; matched against the part after the last "/",
# lower-cased. A dated snapshot matches its family; "gpt-4o" never matches "gpt-4o-mini".
_ALIASES: tuple[tuple[str, str], ...] = (
    ("o3-mini", r"^o3-mini(-\d{4}-\d{2}-\d{2})?$"),
    ("o1-mini", r"^o1-mini(-\d{4}-\d{2}-\d{2})?$"),
    ("DeepSeek-R1", r"^deepseek-(r1|reasoner)$"),
    ("claude-3.7-sonnet", r"^claude-3[.-]7-sonnet(-\d{8}|-latest)?$"),
    ("gpt-4o", r"^gpt-4o(-\d{4}-\d{2}-\d{2})?$"),
    ("DeepSeek-V3", r"^deepseek-(v3|chat)$"),
    ("Llama-3.1-405B", r"llama-3\.1-405b"),
    ("gpt-4o-mini", r"^gpt-4o-mini(-\d{4}-\d{2}-\d{2})?$"),
    ("Qwen2.5-72B", r"qwen2\.5-72b"),
    ("Llama-3.1-70B", r"llama-3\.1-70b"),
    ("Qwen2.5-7B", r"qwen2\.5-7b"),
    ("Llama-3.1-8B", r"llama-3\.1-8b"),
    ("Llama-3.2-3B", r"llama-3\.2-3b"),
)
VARIANT_COLUMN = {"annotated": 0, "anonymized": 1}


def published_name(model: str) -> str | None:
    """The paper's name for ``model`` (a provider string), or None when it was not evaluated."""
    leaf = model.rsplit("/", 1)[-1].lower()
    for name, pattern in _ALIASES:
        if re.search(pattern, leaf):
            return name
    return None


def _group(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    graded = [r for r in results if r.graded]
    solved = [r for r in graded if r.success]
    n = len(graded)
    statuses = Counter(r.status for r in results)
    return {
        "episodes": len(results),
        "graded": n,
        "solved": len(solved),
        "success_pct": round(100.0 * len(solved) / n, 2) if n else None,
        "paper_io": round(sum(r.paper_io for r in graded) / n, 2) if n else None,
        "paper_oracle": round(sum(r.paper_oracle for r in graded) / n, 2) if n else None,
        "api_errors": statuses.get("api_error", 0),
        "infra_errors": statuses.get("infra_error", 0),
        "agent_errors": statuses.get("agent_error", 0),
        "invalid_replies": sum(r.invalid_replies for r in results),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "cost_usd": round(sum(r.cost_usd for r in results), 6),
        "duration_s": round(sum(r.duration_s for r in results), 3),
    }


def summarize(
    results: Iterable[EpisodeResult], *, model: str = "", main_setting: bool = True
) -> dict[str, Any]:
    """Totals, per variant and per (variant, source), with the published rate beside ours.

    ``main_setting`` says the run used the paper's budgets over whole variants; otherwise
    the published numbers are listed but marked as not comparable.
    """
    results = list(results)
    out: dict[str, Any] = {"model": model, "total": _group(results), "variants": {}}
    paper = published_name(model) if model else None
    out["published_model"] = paper
    out["comparable_with_published"] = bool(paper) and main_setting
    for variant in sorted({r.variant for r in results}):
        of_variant = [r for r in results if r.variant == variant]
        row = _group(of_variant)
        column = VARIANT_COLUMN.get(variant)
        row["published_success_pct"] = (
            PUBLISHED[paper][column] if paper and column is not None else None
        )
        row["sources"] = {
            source: _group([r for r in of_variant if r.source == source])
            for source in sorted({r.source for r in of_variant})
        }
        out["variants"][variant] = row
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def summary_table(summary: dict[str, Any]) -> Any:
    """A rich Table of the summary (rich imported here: the CLI needs it, the library not)."""
    from rich.table import Table

    title = f"CodeARC results: {summary.get('model') or 'no model'}"
    if summary.get("published_model"):
        note = "" if summary.get("comparable_with_published") else " (not the main setting)"
        title += f" | published as {summary['published_model']}{note}"
    table = Table(title=title)
    for column in (
        "variant",
        "source",
        "graded",
        "success %",
        "published %",
        "#I/O",
        "#Oracle",
        "errors api/infra/agent",
        "tokens in/out",
        "cost $",
    ):
        table.add_column(column, justify="left" if column in ("variant", "source") else "right")

    def add(variant: str, source: str, g: dict[str, Any], published: float | None) -> None:
        table.add_row(
            variant,
            source,
            f"{g['solved']}/{g['graded']}",
            _pct(g["success_pct"]),
            _pct(published),
            _pct(g["paper_io"]),
            _pct(g["paper_oracle"]),
            f"{g['api_errors']}/{g['infra_errors']}/{g['agent_errors']}",
            f"{g['prompt_tokens']}/{g['completion_tokens']}",
            f"{g['cost_usd']:.4f}",
        )

    for variant, row in summary["variants"].items():
        add(variant, "all", row, row.get("published_success_pct"))
        for source, g in row["sources"].items():
            add("", source, g, None)
    add("total", "", summary["total"], None)
    return table
