"""A Ray cluster that ``codearc eval --ray`` starts for itself (no address) listens on
loopback only."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install codearc-env[ray]")

from codearc_env.agents import ray_eval  # noqa: E402


def test_the_run_s_own_cluster_listens_on_loopback_only(monkeypatch) -> None:
    if ray.is_initialized():
        ray.shutdown()  # connected() would keep a connection made elsewhere
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    with ray_eval.connected(ray_eval.LOCAL_CLUSTER) as connected_ray:
        gcs_host = connected_ray.get_runtime_context().gcs_address.rsplit(":", 1)[0]
        nodes = connected_ray.nodes()
        assert gcs_host == "127.0.0.1"
        assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"]
        assert connected_ray.util.get_node_ip_address() == "127.0.0.1"
    assert not ray.is_initialized()
