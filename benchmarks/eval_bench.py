"""Measure the evaluation harness end to end and print the figures for docs/agents.md.

    python benchmarks/eval_bench.py ground-truth [--backend bwrap] [--concurrency 2]
        The ground-truth agent over every problem of both variants, twice: with an empty
        oracle cache (cold) and again with the cache it filled (warm). Prints successes,
        the problems it did not solve with their quirk flags, and the wall times.

    python benchmarks/eval_bench.py scripted [--episodes 100] [--concurrency 8]
        A scripted model (one query, two wrong submissions per episode) over the first
        problems of the annotated split: harness throughput, no LLM involved.

    python benchmarks/eval_bench.py auth-failure [--samples 2]
        ``codearc eval`` with a rejected API key against an OpenAI-compatible server on
        127.0.0.1 that answers 401, over both variants of the built-in suite (94 problems,
        times --samples episodes): how long until the run stops, its exit code, and how many
        requests reached the server.

    python benchmarks/eval_bench.py local [--agent react] [--problems 3]
        The embedded model (local/smollm2) with the default bounds (turn cap, invalid
        actions in a row): wall time, turns and prompt tokens per episode.

Needs the real data (CODEARC_DATA_DIR or ../shared/codearc-data) and a sandbox backend
(auth-failure and local use the built-in suite only).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "codearc-data"


def data_dir() -> str:
    env = os.environ.get("CODEARC_DATA_DIR")
    if env:
        return env
    if (SHARED_DATA / "problems.jsonl").exists():
        return str(SHARED_DATA)
    sys.exit("no CodeARC data: set CODEARC_DATA_DIR")


def _eval(out: Path, **kwargs):
    from codearc_env.agents.evaluate import EvalConfig, evaluate

    model_factory = kwargs.pop("model_factory", None)
    config = EvalConfig(out_dir=out, data_dir=data_dir(), retry_wait_s=1.0, **kwargs)
    start = time.monotonic()
    summary = evaluate(config, model_factory=model_factory, show_progress=sys.stderr.isatty())
    return summary, time.monotonic() - start


def ground_truth(args: argparse.Namespace) -> None:
    from codearc_env.agents.results import ResultsFile

    work = Path(tempfile.mkdtemp(prefix="codearc-gt-"))
    # The oracle caches reference outputs under this folder; a fresh one is a cold cache.
    os.environ["CODEARC_CACHE_DIR"] = str(work / "cache")
    limit = args.limit
    for label in ("cold", "warm"):
        out = work / label
        summary, wall = _eval(
            out,
            agent="ground-truth",
            variant="both",
            split=args.split,
            limit=limit,
            concurrency=args.concurrency,
            backend=args.backend,
        )
        results = ResultsFile(out / "results.jsonl").load().values()
        unsolved = [r for r in results if not r.success]
        clean_unsolved = [r for r in unsolved if not r.quirks]
        t = summary["total"]
        print(
            f"[{label}] episodes {t['episodes']}  solved {t['solved']}  "
            f"unsolved {len(unsolved)} (of which without quirk flags: {len(clean_unsolved)})  "
            f"errors api/infra/agent {t['api_errors']}/{t['infra_errors']}/{t['agent_errors']}"
            f"  wall {wall:.1f} s  ({wall / max(1, t['episodes']) * 1000:.0f} ms/episode)"
        )
        for r in sorted(unsolved, key=lambda r: (r.variant, r.index)):
            print(
                f"    {r.problem_id:<18} {r.status:<12} quirks={','.join(r.quirks) or '-'}"
                f"  {r.message[:80]}"
            )
    print(f"run folders: {work}")


def scripted(args: argparse.Namespace) -> None:
    from codearc_env.agents.generic_script import generic_model

    work = Path(tempfile.mkdtemp(prefix="codearc-scripted-"))
    summary, wall = _eval(
        work / "run",
        agent="react",
        model="scripted/generic",
        variant="annotated",
        split=args.split,
        limit=args.episodes,
        concurrency=args.concurrency,
        backend=args.backend,
        model_factory=generic_model,
    )
    t = summary["total"]
    print(
        f"scripted eval: {t['episodes']} episodes at concurrency {args.concurrency}: "
        f"graded {t['graded']}, solved {t['solved']}, errors api/infra/agent "
        f"{t['api_errors']}/{t['infra_errors']}/{t['agent_errors']}, "
        f"#I/O {t['paper_io']}, #Oracle {t['paper_oracle']}, wall {wall:.1f} s "
        f"({wall / max(1, t['episodes']):.2f} s/episode)"
    )
    print(f"summary: {work / 'run' / 'summary.json'}")


def auth_failure(args: argparse.Namespace) -> None:
    import json
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    requests = []

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            requests.append(time.monotonic())
            body = json.dumps(
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                }
            ).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = Path(tempfile.mkdtemp(prefix="codearc-auth-")) / "run"
    argv = [
        sys.executable,
        "-m",
        "codearc_env.cli",
        "eval",
        "--model",
        "openai/gpt-4o-mini",
        "--api-base",
        f"http://127.0.0.1:{server.server_address[1]}/v1",
        "--split",
        "builtin",
        "--variant",
        "both",
        "--samples",
        str(args.samples),
        "--out",
        str(out),
        "--no-progress",
    ]
    if args.backend:
        argv += ["--backend", args.backend]
    importing = time.monotonic()
    subprocess.run([sys.executable, "-c", "import litellm"], check=True)
    import_s = time.monotonic() - importing
    start = time.monotonic()
    done = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "OPENAI_API_KEY": "sk-bad"}
    )
    end = time.monotonic()
    server.shutdown()
    first = f"{requests[0] - start:.2f} s" if requests else "never"
    print(
        f"auth failure: {94 * args.samples} episodes planned, exit code {done.returncode} after "
        f"{end - start:.2f} s; first request at {first}, exit "
        f"{end - requests[0] if requests else float('nan'):.2f} s after it; "
        f"{len(requests)} request(s) reached the server; `import litellm` alone: "
        f"{import_s:.2f} s; load {os.getloadavg()[0]:.2f}"
    )
    print(done.stderr.strip().splitlines()[-2] if done.stderr.strip() else "(no stderr)")


def local(args: argparse.Namespace) -> None:
    from codearc_env.agents.results import ResultsFile

    out = Path(tempfile.mkdtemp(prefix="codearc-local-")) / "run"
    summary, wall = _eval(
        out,
        agent=args.agent,
        model="local/smollm2",
        split="builtin",
        limit=args.problems,
        force_tool_choice=args.agent == "react",
        max_tokens=256,
        temperature=0.0,
        max_attempts=1,
        backend=args.backend,
    )
    for r in ResultsFile(out / "results.jsonl").load().values():
        print(
            f"{r.problem_id:<34} {r.status:<8} turns {r.turns:>2}  invalid replies "
            f"{r.invalid_replies}  prompt tokens {r.prompt_tokens:>6}  {r.duration_s:6.1f} s"
            f"  {r.message[:60]}"
        )
    t = summary["total"]
    print(
        f"local/smollm2 {args.agent}: {t['episodes']} episodes in {wall:.1f} s "
        f"({wall / max(1, t['episodes']):.1f} s/episode), load {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    gt = sub.add_parser("ground-truth")
    gt.add_argument("--split", default="all")
    gt.add_argument("--limit", type=int, default=None, help="per variant (default: all)")
    gt.add_argument("--concurrency", type=int, default=2)
    gt.add_argument("--backend", default=None)
    gt.set_defaults(func=ground_truth)
    sc = sub.add_parser("scripted")
    sc.add_argument("--episodes", type=int, default=100)
    sc.add_argument("--concurrency", type=int, default=8)
    sc.add_argument("--split", default="all")
    sc.add_argument("--backend", default=None)
    sc.set_defaults(func=scripted)
    au = sub.add_parser("auth-failure")
    au.add_argument("--samples", type=int, default=2)
    au.add_argument("--backend", default=None)
    au.set_defaults(func=auth_failure)
    lo = sub.add_parser("local")
    lo.add_argument("--agent", choices=("react", "text"), default="react")
    lo.add_argument("--problems", type=int, default=3)
    lo.add_argument("--backend", default=None)
    lo.set_defaults(func=local)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
