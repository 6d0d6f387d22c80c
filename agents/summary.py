"""The summary of a run: success %, #I/O and #Oracle by the paper's convention, costs.

Only graded episodes (``success`` / ``failure``) enter success rates and means; API, infra
and agent errors are counted apart and never as wrong answers. #I/O and #Oracle follow the
paper: a failed problem counts B_io and B_oracle, a solved one the extra queries and the
oracle calls it used (computed per episode, see :class:`EpisodeResult`).

With several samples per problem, pass@k is the unbiased estimator of Chen et al. (2021),
``1 - C(n - c, k) / C(n, k)`` for a problem with n graded samples of which c succeeded,
averaged over the problems with at least k graded samples.

The paper's published success rate is shown only beside a run made in the paper's setting
(the whole split, B_io 30, B_oracle 2, one of the paper's models); elsewhere the column is
blank and a note says why.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from codearc_env.agents.results import EpisodeResult
from codearc_env.config import DEFAULT_CONFIG

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


PAPER_SETTING = {
    "split": "all",
    "b_io": DEFAULT_CONFIG.b_io,
    "b_oracle": DEFAULT_CONFIG.b_oracle,
    "problems": None,
    "limit": None,
}
"""The paper's main setting (the environment's defaults are the paper's)."""


def paper_setting_gaps(settings: Mapping[str, Any]) -> list[str]:
    """How a run's settings differ from the paper's main setting (empty: they match)."""
    gaps = []
    if settings.get("split") != "all":
        gaps.append(f"split {settings.get('split')!r} (the paper used all 1114 problems)")
    if settings.get("problems") is not None:
        gaps.append("a chosen subset of problems (--problems)")
    if settings.get("limit") is not None:
        gaps.append(f"the first {settings.get('limit')} problems only (--limit)")
    for name in ("b_io", "b_oracle"):
        paper = PAPER_SETTING[name]
        if settings.get(name) != paper:
            gaps.append(f"{name} {settings.get(name)} (the paper's is {paper})")
    if settings.get("teacher"):
        gaps.append("a teacher that sees the hidden function")
    return gaps


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one problem with ``n`` samples of which ``c`` succeeded."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _pass_at(results: Sequence[EpisodeResult], ks: Sequence[int]) -> dict[str, Any]:
    per_problem: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r.graded:
            per_problem[r.problem_id][0] += 1
            per_problem[r.problem_id][1] += int(r.success)
    out: dict[str, Any] = {}
    for k in ks:
        counted = [(n, c) for n, c in per_problem.values() if n >= k]
        value = sum(pass_at_k(n, c, k) for n, c in counted) / len(counted) if counted else None
        out[f"pass@{k}"] = round(100.0 * value, 2) if value is not None else None
        out[f"pass@{k}_problems"] = len(counted)
    return out


def _group(results: Sequence[EpisodeResult], ks: Sequence[int] = (1,)) -> dict[str, Any]:
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
        "problems": len({r.problem_id for r in results}),
        **_pass_at(results, ks),
    }


def summarize(
    results: Iterable[EpisodeResult],
    *,
    model: str = "",
    not_comparable: Sequence[str] = (),
    samples: int = 1,
) -> dict[str, Any]:
    """Totals, per variant and per (variant, source), with the published rate beside ours
    when the run is comparable with it.

    ``not_comparable`` lists how the run's setting differs from the paper's (see
    :func:`paper_setting_gaps`); any entry blanks the published column.
    """
    results = list(results)
    ks = sorted({1, samples})
    out: dict[str, Any] = {
        "model": model,
        "samples": samples,
        "total": _group(results, ks),
        "variants": {},
        "run_settings_hashes": dict(Counter(r.run_settings_hash for r in results)),
    }
    paper = published_name(model) if model else None
    out["published_model"] = paper
    comparable = bool(paper) and not not_comparable
    out["comparable_with_published"] = comparable
    if comparable:
        out["published_note"] = ""
    elif not paper:
        out["published_note"] = "the paper did not evaluate this model"
    else:
        out["published_note"] = f"not the paper's setting: {'; '.join(not_comparable)}"
    for variant in sorted({r.variant for r in results}):
        of_variant = [r for r in results if r.variant == variant]
        row = _group(of_variant, ks)
        column = VARIANT_COLUMN.get(variant)
        row["published_success_pct"] = (
            PUBLISHED[paper][column] if comparable and paper and column is not None else None
        )
        row["sources"] = {
            source: _group([r for r in of_variant if r.source == source], ks)
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
        title += f" | published as {summary['published_model']}"
    note = summary.get("published_note") or ""
    table = Table(title=title, caption=f"published %: blank because {note}" if note else None)
    samples = int(summary.get("samples") or 1)
    pass_columns = [f"pass@{k}" for k in sorted({1, samples})] if samples > 1 else []
    for column in (
        "variant",
        "source",
        "graded",
        "success %",
        *pass_columns,
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
            *(_pct(g.get(c)) for c in pass_columns),
            "" if published is None else _pct(published),
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
