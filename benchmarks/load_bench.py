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

from bench_common import cpu_model, default_data_dir

REPEAT = 5


def _median(fn, repeat: int = REPEAT) -> tuple[float, float]:  # noqa: ANN001
    """Median wall-clock and CPU seconds (CPU time is what counts on a busy shared machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


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
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else default_data_dir()
    if not (data_dir / "problems.jsonl").is_file():
        print(f"no JSON Lines data in {data_dir}", file=sys.stderr)
        return 2
    from codearc_env.functions import load_dataset

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]
    rows = []
    cold_script = (
        "import time; t = time.perf_counter(); c = time.process_time(); "
        "from codearc_env.functions import load_dataset; "
        f"load_dataset({str(data_dir)!r}); "
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", cold_script], check=True, capture_output=True, text=True
        ).stdout.split()
        for _ in range(3)
    ]
    cold = (
        statistics.median(float(r[0]) for r in runs),
        statistics.median(float(r[1]) for r in runs),
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
    print(f"{started}, {cpu_model()}, load average {load_before:.1f} before the runs")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {REPEAT} (3 for cold)"
    )
    print(f"  {'':<45} {'wall':>8} {'cpu':>8}")
    for name, (wall, cpu) in rows:
        print(f"  {name:<45} {wall:7.3f}s {cpu:7.3f}s")
    print(f"  (load average now: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
