import os
import sys
import uuid

import pytest

import quarry

# Test functions travel to Ray workers by value: workers need not import the test modules.
try:
    import ray.cloudpickle as _cp
    _cp.register_pickle_by_value(sys.modules[__name__])
except Exception:  # noqa: BLE001
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "ray: starts a local Ray (left out by scripts/run-tests "
                            "--fast, the tier without servers and Ray)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if {"local_ray", "three_nodes"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ray)
    for module in {item.module for item in items}:
        try:
            import ray.cloudpickle as cp
            cp.register_pickle_by_value(module)
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture(scope="session")
def s3():
    if os.environ.get("QUARRY_TEST_S3") != "1":
        pytest.skip("needs the local RGW: scripts/test-servers start && eval \"$(scripts/test-servers env)\"")
    return os.environ["AWS_ENDPOINT_URL"]


@pytest.fixture
def bucket(s3):
    name = "quarry-py-" + uuid.uuid4().hex[:12]
    quarry.create_bucket(f"s3://{name}")
    yield name
    try:
        quarry.delete(f"s3://{name}/", recursive=True)
    except quarry.NotFound:
        pass


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
