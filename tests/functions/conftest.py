"""Fixtures for the dataset tests: synthetic data in both layouts, archives, a local server."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from codearc_env.functions.raw import EXPECTED_PROBLEMS, RawExample, RawProblem
from codearc_env.functions.spec import UPSTREAM_VARIANT_DIR, VARIANTS
from codearc_env.sandbox.base import CallResult, Invocation
from codearc_env.testing import SandboxDouble

INV_SUBPATH = "num_invocations=10/llm/invocations.json"


def synthetic_problems() -> list[RawProblem]:
    """1114 tiny problems per variant, shaped like the real data (not derived from it)."""
    out = []
    for variant in VARIANTS:
        for i in range(EXPECTED_PROBLEMS):
            name = f"add_{i}" if variant == "annotated" else "solution"
            hint = ": int" if variant == "annotated" else ""
            code = f"def helper(x):\n    return x\n\n\ndef {name}(x{hint}):\n    return x + {i}\n"
            examples = tuple(
                RawExample(
                    k=k,
                    input=f"print('Result {k + 1}: ' + str({name}({k})))",
                    output=f"Result {k + 1}: {k + i}",
                    errored=False,
                )
                for k in range(10)
            )
            out.append(RawProblem(variant, i, code, examples, "synthetic"))
    return out


def write_jsonl(problems: Sequence[RawProblem], root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "problems.jsonl").open("w", encoding="utf-8") as fh:
        for p in problems:
            row = {"index": p.index, "variant": UPSTREAM_VARIANT_DIR[p.variant], "code": p.code}
            fh.write(json.dumps(row) + "\n")
    with (root / "invocations.jsonl").open("w", encoding="utf-8") as fh:
        for p in problems:
            for ex in p.examples:
                row = {
                    "index": p.index,
                    "variant": UPSTREAM_VARIANT_DIR[p.variant],
                    "k": ex.k,
                    "input": ex.input,
                    "output": ex.output,
                    "errored": ex.errored,
                }
                fh.write(json.dumps(row) + "\n")
    return root


def write_upstream(problems: Sequence[RawProblem], root: Path) -> Path:
    """The upstream repository layout, with an unrelated file as a real clone would have."""
    tables: dict[str, dict[str, dict[str, dict[str, object]]]] = {}
    for p in problems:
        folder = UPSTREAM_VARIANT_DIR[p.variant]
        path = root / "dataset" / folder / f"{p.index}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(p.code.encode("utf-8"))
        tables.setdefault(folder, {})[str(p.index)] = {
            str(ex.k): {"input": ex.input, "output": ex.output, "errored": ex.errored}
            for ex in p.examples
        }
    for folder, table in tables.items():
        path = root / "prompt_invocations" / folder / INV_SUBPATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(table, indent=2), encoding="utf-8")
    (root / "README.md").write_text("not data\n")
    return root


def make_archive(tree: Path, dest: Path, top: str = "CodeARC-0123abc") -> Path:
    """A .tar.gz of ``tree`` under one top folder, like a source archive."""
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(tree, arcname=top)
    return dest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1: ``(folder, base_url)``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# A stand-in sandbox for tests of verify: it runs trusted test code (our own built-in suite and
# tiny modules written in the tests) in a child Python process, one process per request.
_RUNNER = """
import json, sys
req = json.load(sys.stdin)
ns = {"__name__": "hidden"}
exec(compile(req["source"], "<hidden>", "exec"), ns)
out = []
for expr in req["expressions"]:
    try:
        value = eval(expr, ns)
    except Exception as exc:
        out.append({"ok": False, "error_type": type(exc).__name__, "error_message": str(exc)})
    else:
        out.append({"ok": True, "value_str": str(value)})
print(json.dumps(out))
"""


class SubprocessFakeSandbox(SandboxDouble):
    """Not a security boundary: for trusted test code only."""

    name = "fake"

    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        exprs = [
            inv.expression or f"{function}(*{inv.args!r}, **dict({inv.kwargs!r}))"
            for inv in calls
        ]
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER],
            input=json.dumps({"source": source, "expressions": exprs}),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            return [CallResult(ok=False, infra_error=proc.stderr[-200:]) for _ in calls]
        return [CallResult(**row) for row in json.loads(proc.stdout)]


class CannedSandbox(SubprocessFakeSandbox):
    """Returns prepared results by call expression; runs nothing."""

    name = "canned"

    def __init__(self, results: dict[str, CallResult]) -> None:
        super().__init__()
        self.results = results

    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        return [self.results[inv.expression or ""] for inv in calls]


@pytest.fixture(scope="session")
def fakes() -> SimpleNamespace:
    return SimpleNamespace(Subprocess=SubprocessFakeSandbox, Canned=CannedSandbox)


@pytest.fixture(scope="session")
def synthetic() -> list[RawProblem]:
    return synthetic_problems()


@pytest.fixture(scope="session")
def synthetic_jsonl(tmp_path_factory: pytest.TempPathFactory, synthetic: list[RawProblem]) -> Path:
    return write_jsonl(synthetic, tmp_path_factory.mktemp("jsonl"))


@pytest.fixture(scope="session")
def synthetic_upstream(
    tmp_path_factory: pytest.TempPathFactory, synthetic: list[RawProblem]
) -> Path:
    return write_upstream(synthetic, tmp_path_factory.mktemp("upstream"))


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No data dir from the environment, and an empty user cache under tmp_path."""
    monkeypatch.delenv("CODEARC_DATA_DIR", raising=False)
    monkeypatch.delenv("CODEARC_DATA_URL", raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture(scope="session")
def datafiles() -> SimpleNamespace:
    """The writers above, for tests that build their own variations of the data."""
    return SimpleNamespace(
        synthetic_problems=synthetic_problems,
        write_jsonl=write_jsonl,
        write_upstream=write_upstream,
        make_archive=make_archive,
    )
