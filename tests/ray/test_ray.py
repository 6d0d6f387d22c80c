"""Ray: ``codearc eval --ray`` and ``codearc collect --ray`` on a local two-node cluster (one
node killed mid-run), and environments on a worker task using the Ray-backed pool, whose
lost hosts (actor killed, node killed) fail calls with SandboxError.

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
from codearc_env.errors import SandboxError  # noqa: E402
from codearc_env.sandbox.pool import SandboxPool  # noqa: E402
from codearc_env.sandbox.ray_pool import (  # noqa: E402
    RayPool,
    host_name,
    live_node_ids,
    pick_host_node,
    start_ray_pool,
)

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # ray_scripts, here and (through PYTHONPATH) on the nodes
import ray_scripts  # noqa: E402
from ray_scripts import (  # noqa: E402
    INCREMENT,
    call_in_flight,
    call_through,
    lost_message,
    wait_until,
)

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
LATE_WORKER_IP = "127.0.0.3"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    saved = dict(os.environ)
    # The nodes' processes inherit these: one oracle cache for the run, no usage reports.
    os.environ["CODEARC_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO"] = "0"  # no GPUs here: keep Ray quiet about it
    # The nodes import ray_scripts by name, as a user's module installed on every node.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
    )
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


def on_node(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id, soft=False)


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


def test_a_node_without_a_host_borrows_one_whose_node_is_not_gone():
    hosts = ["node-a", "node-b", "node-c"]
    assert pick_host_node("node-b", hosts, gone=["node-a"]) == "node-b"  # its own host
    callers = [f"late-{i}" for i in range(12)]
    borrowed = {c: pick_host_node(c, hosts, gone=[]) for c in callers}
    assert set(borrowed.values()) == set(hosts)  # spread over the hosts, by caller id
    assert {c: pick_host_node(c, hosts, gone=[]) for c in callers} == borrowed  # stable
    for caller, node in borrowed.items():
        moved = pick_host_node(caller, hosts, gone=[node])
        assert moved != node and moved in hosts
        assert pick_host_node(caller, hosts, gone=[h for h in hosts if h != moved]) == moved
        # every node gone: a gone one, whose calls then raise
        assert pick_host_node(caller, hosts, gone=hosts) == node


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


def test_astep_and_make_vec_on_a_worker_observe_what_they_do_without_ray(cluster):
    worker = next(iter(cluster.worker_nodes)).node_id
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend is no boundary
        with SandboxPool(2, "process") as local:  # without Ray: this process, one pool
            expected = (ray_scripts.astep_episodes(local, [0, 1]),
                        ray_scripts.vector_episodes(local, num_envs=2))
    astep, vector = expected
    # The scripts reach the verdicts: a counterexample for the wrong program, then solved.
    assert [[step[-1] for step in episode[1:]] for episode in astep] == [
        ["running", "running", "solved"]] * 2
    assert [step[-1] for step in vector[1:]] == [["running"] * 2] * 2
    for feedback in vector[-1][0]["feedback"]:
        assert feedback.startswith("Incorrect: your program differs from the hidden function.")
    connect_driver(cluster)
    try:
        pool = start_ray_pool(size=2, backend="process")

        @ray.remote(num_cpus=0, scheduling_strategy=on_node(worker))
        def play(pool: RayPool) -> tuple[list, list]:
            import ray_scripts

            return (ray_scripts.astep_episodes(pool, [0, 1]),
                    ray_scripts.vector_episodes(pool, num_envs=2))

        assert ray.get(play.remote(pool)) == expected
        stats = pool.host_stats()
        assert stats[worker].candidate_calls >= 6  # 2 x 2 by astep, 2 by the vector env
        assert stats[cluster.head_node.node_id].candidate_calls == 0
        pool.shutdown()
    finally:
        ray.shutdown()


def test_a_killed_pool_host_fails_its_calls_with_sandbox_error_then_is_replaced(cluster):
    head = cluster.head_node.node_id
    connect_driver(cluster)
    try:
        pool = start_ray_pool(size=2, backend="process")
        first = pool.hosts[head]
        assert call_through(pool) == "2"
        thread, outcome = call_in_flight(pool, head)
        ray.kill(first)  # the host dies with a call in flight
        thread.join(timeout=60)
        assert not thread.is_alive()
        [error] = outcome
        assert type(error) is SandboxError  # not a Ray exception
        assert str(error) == lost_message(head, "ActorDiedError")

        # The node is alive: the next call starts a fresh host there, under the pool's name.
        assert call_through(pool, INCREMENT, 41) == "42"
        fresh = pool.hosts[head]
        assert fresh._actor_id != first._actor_id
        assert ray.get_actor(host_name(pool.token, head))._actor_id == fresh._actor_id
        assert pool.host_stats()[head].candidate_calls == 1  # a new host, a new pool
        # Another client still holding the dead host raises once, then finds the same one.
        stale = RayPool(pool.token, {**pool.hosts, head: first}, 2, "process")
        with pytest.raises(SandboxError) as info:
            call_through(stale)
        assert str(info.value) == lost_message(head, "ActorDiedError")
        assert call_through(stale) == "2"
        assert stale.hosts[head]._actor_id == fresh._actor_id
        pool.shutdown()
        with pytest.raises(ValueError):  # no host of that name is left
            ray.get_actor(host_name(pool.token, head))
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


def test_collect_on_ray_records_each_episode_once_from_the_driver(cluster, tmp_path, capsys):
    out = tmp_path / "teach"
    argv = ["collect", "--teacher", "py:ray_scripts:copying_teacher", "--split", "builtin",
            "--backend", "process", "--limit", "6", "--b-oracle", "1", "--concurrency", "2",
            "--format", "trl", "--out", str(out), "--no-progress", "--ray", cluster.address]
    assert _main(argv) == 0  # connects through the address, as the command does
    assert capsys.readouterr().out.rstrip("\n").split("\n")[-1] == (
        f"summary: {out / 'summary.json'}")
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len({(r["problem_id"], r["sample"]) for r in rows}) == 6
    wanted = {r["problem_id"]: "failure" if ray_scripts.fails_on_purpose(
        r["problem_id"].rsplit("/", 1)[1]) else "success" for r in rows}
    assert {r["problem_id"]: r["status"] for r in rows} == wanted
    assert set(wanted.values()) == {"success", "failure"}  # both kinds, for both exports
    submitted = {}
    for row in rows:  # one trace per episode, one attempt in it, the teacher's note kept
        events = [json.loads(x) for x in (out / row["trace"]).read_text().splitlines()]
        kinds = [e["type"] for e in events]
        assert kinds.count("EpisodeStart") == kinds.count("EpisodeEnd") == 1
        assert events[-1]["status"] == row["status"]
        [note] = [e for e in events if e.get("privileged")]
        hidden = note["content"].split("```python\n", 1)[1].split("\n```", 1)[0]
        calls = [e for e in events if e["type"] == "ToolCall" and e["kind"] == "submit"]
        submitted[row["problem_id"]] = (hidden, calls[-1]["text"])
    student = [json.loads(x) for x in (out / "student-trl.jsonl").read_text().splitlines()]
    failed = [json.loads(x) for x in (out / "failed-trl.jsonl").read_text().splitlines()]
    assert sorted(r["metadata"]["problem_id"] for r in student) == sorted(
        p for p, status in wanted.items() if status == "success")
    assert sorted(r["metadata"]["problem_id"] for r in failed) == sorted(
        p for p, status in wanted.items() if status == "failure")
    for row in student:  # the hidden function, copied by the teacher; its note dropped
        hidden, code = submitted[row["metadata"]["problem_id"]]
        assert code == hidden
        assert row["messages"][-1]["tool_calls"][0]["function"]["arguments"]["code"] == hidden
        assert "PRIVATE NOTE" not in json.dumps(row)
    assert json.loads((out / "summary.json").read_text())["run"]["finished"] == 6


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


def test_calls_through_a_lost_node_raise_sandbox_error_and_keep_raising(cluster):
    # A node of its own for the pool (the first worker is gone by now), added to the cluster.
    late = cluster.add_node(**NODE_ARGS, node_ip_address=LATE_WORKER_IP).node_id
    cluster.wait_for_nodes()
    connect_driver(cluster)
    try:
        pool = start_ray_pool(size=2, backend="process", nodes=[late])
        assert list(pool.hosts) == [late]  # the driver, on the head, borrows it
        assert call_through(pool) == "2"
        thread, outcome = call_in_flight(pool, late)
        worker = next(n for n in cluster.worker_nodes if n.node_id == late)
        cluster.remove_node(worker, allow_graceful=False)  # with the call in flight
        thread.join(timeout=60)
        assert not thread.is_alive()
        [error] = outcome
        assert type(error) is SandboxError
        # died, or unreachable until declared dead: either way lost
        assert str(error) in {lost_message(late, "ActorDiedError"),
                              lost_message(late, "ActorUnavailableError")}

        wait_until(lambda: late not in live_node_ids(), "the node to be declared dead")
        gone = (f"the sandbox pool host on Ray node {late} is lost and the node has left the "
                "cluster")
        for _ in range(2):  # no fresh host on a gone node: every call raises
            with pytest.raises(SandboxError) as info:
                call_through(pool)
            assert str(info.value) == gone
        with pytest.raises(SandboxError) as info:
            pool.host_stats()
        assert str(info.value) == gone
        with pytest.raises(SandboxError) as info:
            start_ray_pool(size=2, backend="process", nodes=[late])
        assert str(info.value) == f"not live nodes of the Ray cluster: {late}"
        pool.shutdown()  # nothing left to stop there, and no error
        assert pool.closed
    finally:
        ray.shutdown()
