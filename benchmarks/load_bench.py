"""How long loading the dataset takes: JSON Lines form, upstream layout, and full parsing.

    python benchmarks/load_bench.py [DATA_DIR]      (default: $CODEARC_DATA_DIR or ../shared/codearc-data)

Prints the median of several runs for each phase. The target is "well under 2 s" to load all
2228 problems from JSON Lines (targets, quirks and splits ready; example calls parse lazily).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 5


def _default_dir() -> Path:
    env = os.environ.get("CODEARC_DATA_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "codearc-data"


def _median(fn, repeat: int = REPEAT) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _write_upstream(data_dir: Path, dest: Path) -> None:
    """The upstream repository layout, written from the JSON Lines form (for timing only)."""
    from codearc_env.functions.loaders import load_jsonl
    from codearc_env.functions.spec import UPSTREAM_VARIANT_DIR

    tables: dict[str, dict] = {}
    for p in load_jsonl(data_dir):
        folder = UPSTREAM_VARIANT_DIR[p.variant]
        path = dest / "dataset" / folder / f"{p.index}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(p.code.encode("utf-8"))
        tables.setdefault(folder, {})[str(p.index)] = {
            str(e.k): {"input": e.input, "output": e.output, "errored": e.errored}
            for e in p.examples
        }
    for folder, table in tables.items():
        path = dest / "prompt_invocations" / folder / "num_invocations=10/llm/invocations.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(table), encoding="utf-8")


def main() -> int:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else _default_dir()
    if not (data_dir / "problems.jsonl").is_file():
        print(f"no JSON Lines data in {data_dir}", file=sys.stderr)
        return 2
    from codearc_env.functions import load_dataset

    rows = []
    cold_script = (
        "import time; t = time.perf_counter(); "
        "from codearc_env.functions import load_dataset; "
        f"load_dataset({str(data_dir)!r}); print(time.perf_counter() - t)"
    )
    cold = statistics.median(
        float(
            subprocess.run(
                [sys.executable, "-c", cold_script], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(3)
    )
    rows.append(("fresh process: import + load (JSON Lines)", cold))
    rows.append(("load_dataset, JSON Lines", _median(lambda: load_dataset(data_dir))))
    with tempfile.TemporaryDirectory() as tmp:
        _write_upstream(data_dir, Path(tmp))
        rows.append(("load_dataset, upstream layout", _median(lambda: load_dataset(tmp))))
    ds = load_dataset(data_dir)

    def parse_all() -> None:
        ds._built.clear()
        for fn in ds:
            fn.examples  # noqa: B018

    rows.append(("parse every example call (after load)", _median(parse_all, 3)))
    print(f"data: {data_dir} ({len(ds)} problems)")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {REPEAT} (3 for cold)"
    )
    for name, seconds in rows:
        print(f"  {name:<45} {seconds:6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
