"""A simulated 3-node Ray cluster on one machine: partitions spread over nodes, results in order,
credentials and configuration travel in the task arguments."""

import os

import pytest

import quarry


@pytest.fixture(scope="module")
def three_nodes():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster
    if ray.is_initialized():
        ray.shutdown()
    # The nodes start without any storage configuration in their environment: whatever the
    # tasks need must come from the driver, inside the task arguments.
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("AWS_", "QUARRY_"))}
    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    finally:
        os.environ.update(saved)
    yield ray
    ray.shutdown()
    cluster.shutdown()


def test_map_over_three_nodes(three_nodes, bucket, monkeypatch):
    ray = three_nodes
    for i in range(60):
        quarry.put(f"s3://{bucket}/n/{i:03d}", b"x" * i)
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    keys = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    # The driver alone knows the configuration: workers get it through the task arguments.
    storage_options = {"endpoint": endpoint, "access_key_id": keys["AWS_ACCESS_KEY_ID"],
                       "secret_access_key": keys["AWS_SECRET_ACCESS_KEY"]}

    def where(obj):
        import os as o

        import ray as r
        assert "AWS_SECRET_ACCESS_KEY" not in o.environ, "workers must not need the driver's env"
        return r.get_runtime_context().get_node_id(), len(obj.read())

    job = quarry.submit(where, f"s3://{bucket}/n/", partitions_per_task=4,
                        storage_options=storage_options, num_cpus=1)
    results = job.result()
    assert [n for _, n in results] == list(range(60))
    assert len({node for node, _ in results}) >= 2, "tasks should spread over the nodes"
    assert job.stats["tasks"] == 15
    assert len(ray.nodes()) == 3
