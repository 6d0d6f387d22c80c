"""Ray: ``codearc eval --ray`` on a local two-node cluster (one node killed mid-run), and an
environment on a worker task using the Ray-backed pool.

The cluster is started here (``ray.cluster_utils.Cluster``: a head and one worker node on
this machine, no dashboard). Sandboxes use the process backend: these tests
are about where calls run and what reaches the results file, not about isolation (the
conformance suite covers that for every backend).
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install codearc-env[ray]")

from ray.cluster_utils import Cluster  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: E402

from codearc_env.agents import ray_eval  # noqa: E402
from codearc_env.agents.cli import register  # noqa: E402
from codearc_env.sandbox.ray_pool import RayPool, start_ray_pool  # noqa: E402

NODE_ARGS = {
    "num_cpus": 1,
    "include_dashboard": False,
    "object_store_memory": 80 * 1024 * 1024,
}
# A killed node is declared dead after about two seconds instead of the default half minute.
FAST_FAILURE_DETECTION = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 4,
}
PROBLEMS = 10
WORKER_IP = "127.0.0.2"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    saved = dict(os.environ)
    # The nodes' processes inherit these: one oracle cache for the run, no usage reports.
    os.environ["CODEARC_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO"] = "0"  # no GPUs here: keep Ray quiet about it
    cluster = Cluster(
        initialize_head=True,
        head_node_args={**NODE_ARGS, "_system_config": FAST_FAILURE_DETECTION},
    )
    # Nodes on one machine share its address, and a driver attaches to the first node it
    # finds there. The worker gets an address of its own (any 127.x.y.z is this machine),
    # so a driver attached to the head (connect_driver) never loses its node to the kill.
    cluster.add_node(**NODE_ARGS, node_ip_address=WORKER_IP)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def connect_driver(cluster) -> None:
    """Connect this process to the cluster, attached to the head node."""
    ray.init(address=cluster.address, _node_ip_address=cluster.head_node.node_ip_address)
    assert ray.get_runtime_context().get_node_id() == cluster.head_node.node_id


def _main(argv):
    import argparse

    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.mark.parametrize(("flag", "address"), [(["--ray", "10.0.0.7:6379"], "10.0.0.7:6379"),
                                                (["--ray"], ray_eval.LOCAL_CLUSTER)])
def test_ray_flag_reaches_the_runner_with_its_address(flag, address, tmp_path, monkeypatch):
    seen = []

    def fake_run_on_ray(address, setup, tasks, plan, on_result=None):
        seen.append((address, len(tasks), setup.config.pool_size))
        return []

    monkeypatch.setattr(ray_eval, "run_on_ray", fake_run_on_ray)
    argv = ["eval", "--agent", "ground-truth", "--split", "builtin", "--limit", "3",
            "--pool-size", "4", "--out", str(tmp_path / "run"), "--no-progress", *flag]
    assert _main(argv) == 0
    assert seen == [(address, 3, 4)]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["ray"] == address


def test_env_on_a_worker_task_runs_on_that_nodes_pool(cluster):
    worker = next(iter(cluster.worker_nodes))
    connect_driver(cluster)
    try:
        pool = start_ray_pool(size=2, backend="process")
        assert set(pool.hosts) == {cluster.head_node.node_id, worker.node_id}

        @ray.remote(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
            worker.node_id, soft=False))
        def play(pool: RayPool) -> list[tuple[float, str]]:
            from codearc_env.env import CodeARCEnv

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the process backend is no boundary
                env = CodeARCEnv(split="builtin", pool=pool, b_oracle=1)  # one try: a verdict
                outcomes = []
                for code in (None, "def {name}(*args):\n    return 'not it'\n"):
                    env.reset(options={"problem": 0})
                    fn = env.problem
                    assert fn is not None
                    text = fn.code if code is None else code.format(name=fn.target)
                    _, reward, _, _, info = env.step({"kind": 1, "text": text})
                    outcomes.append((reward, info["outcome"]))
                env.close()
                return outcomes

        assert ray.get(play.remote(pool)) == [(1.0, "solved"), (0.0, "failed")]
        stats = pool.host_stats()
        here, there = stats[cluster.head_node.node_id], stats[worker.node_id]
        # every call ran on the worker node's own pool; the head's pool stayed idle
        assert there.reference_calls > 0 and there.candidate_calls >= 2
        assert (here.reference_calls, here.candidate_calls, here.started) == (0, 0, 0)
        pool.shutdown()
        assert pool.closed
    finally:
        ray.shutdown()


def test_a_refused_api_key_on_a_node_stops_the_run_as_without_ray(cluster, tmp_path):
    from codearc_env.agents.evaluate import EvalConfig, evaluate
    from codearc_env.agents.model import FatalModelError
    from codearc_env.agents.scripted import ScriptedModel

    config = EvalConfig(out_dir=tmp_path / "run", agent="react", split="builtin", limit=2,
                        backend="process", ray=cluster.address)
    connect_driver(cluster)
    try:
        with pytest.raises(FatalModelError) as info:
            evaluate(config, model_factory=lambda: ScriptedModel(
                [FatalModelError("invalid API key")], name="scripted"))
    finally:
        ray.shutdown()
    assert str(info.value) == "invalid API key"
    results = tmp_path / "run" / "results.jsonl"
    assert not results.exists() or results.read_text() == ""  # nothing recorded


def _eval_argv(out: Path, address: str, *extra: str) -> list[str]:
    return ["eval", "--agent", "ground-truth", "--split", "builtin", "--backend", "process",
            "--concurrency", "2", "--out", str(out), "--no-progress", "--ray", address, *extra]


def test_eval_on_ray_survives_a_node_killed_mid_run(cluster, tmp_path, caplog):
    out = tmp_path / "run"
    results = out / "results.jsonl"
    worker = next(iter(cluster.worker_nodes))
    killed = threading.Event()

    def kill_the_worker_after_the_first_result() -> None:
        deadline = time.monotonic() + 180
        while not (results.exists() and results.read_text().count("\n") >= 1):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        # the worker node dies (processes killed, no goodbye) with episodes in flight
        cluster.remove_node(worker, allow_graceful=False)
        killed.set()

    killer = threading.Thread(target=kill_the_worker_after_the_first_result, daemon=True)
    connect_driver(cluster)  # the run keeps this connection (its driver is on the head)
    try:
        killer.start()
        assert _main(_eval_argv(out, cluster.address, "--limit", str(PROBLEMS))) == 0
        killer.join(timeout=10)
    finally:
        ray.shutdown()
    assert killed.is_set()
    logged = caplog.text
    # died, or unreachable for good (it is never restarted): either way played elsewhere
    assert re.search(r"lost \(Actor(Died|Unavailable)Error\); its episodes are played again "
                     r"elsewhere", logged), logged
    assert "episodes were played again after their node was lost" in logged, logged

    rows = [json.loads(line) for line in results.read_text().splitlines()]
    keys = collections.Counter((r["problem_id"], r["sample"]) for r in rows)
    assert len(keys) == PROBLEMS and set(keys.values()) == {1}  # every episode exactly once
    assert [r["status"] for r in rows] == ["success"] * PROBLEMS  # the ground truth is solved
    for row in rows:  # one trace per episode, written by the driver, ending in its verdict
        events = [json.loads(x) for x in (out / row["trace"]).read_text().splitlines()]
        assert [e["type"] for e in events].count("EpisodeEnd") == 1
        assert events[-1]["type"] == "EpisodeEnd" and events[-1]["status"] == "success"
    assert json.loads((out / "summary.json").read_text())["run"]["finished"] == PROBLEMS

    # Resumed in a process of its own, through the address: nothing is left, nothing is played.
    before = results.read_bytes()
    traces = {p: p.stat().st_mtime_ns for p in (out / "traces").iterdir()}
    cli = [sys.executable, "-m", "codearc_env.cli"]
    again = subprocess.run([*cli, *_eval_argv(out, cluster.address, "--limit", str(PROBLEMS),
                                              "--resume")],
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert results.read_bytes() == before
    assert {p: p.stat().st_mtime_ns for p in (out / "traces").iterdir()} == traces
    assert json.loads((out / "summary.json").read_text())["run"]["finished"] == PROBLEMS

    # A wider scope on resume plays only the new episodes, on the node left, reached by the
    # address alone (this process is no longer connected).
    more = subprocess.run([*cli, *_eval_argv(out, cluster.address, "--limit",
                                             str(PROBLEMS + 2), "--resume")],
                          capture_output=True, text=True, timeout=180, check=False)
    assert more.returncode == 0, more.stderr
    assert results.read_bytes().startswith(before)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == len({(r["problem_id"], r["sample"]) for r in rows}) == PROBLEMS + 2
    assert [r["status"] for r in rows] == ["success"] * (PROBLEMS + 2)
