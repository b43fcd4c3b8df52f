"""One job over s3://, gs:// and az:// inputs at once: each partition reads from its own cloud
with its own scheme's credential, and the results come back in plan order (on Ray, whose
workers get every scheme's resolved options from the driver)."""

import os
import uuid

import pytest

import quarry

_SERVERS = {"s3": "QUARRY_TEST_S3", "gs": "QUARRY_TEST_GS", "az": "QUARRY_TEST_AZ"}


@pytest.fixture
def three_clouds():
    missing = [s for s, var in _SERVERS.items() if os.environ.get(var) != "1"]
    if missing:
        pytest.skip(f"needs the servers of {', '.join(missing)}: scripts/test-servers start && "
                    "eval \"$(scripts/test-servers env)\"")
    name = "quarry-multi-" + uuid.uuid4().hex[:10]
    prefixes = []
    for scheme in _SERVERS:
        quarry.create_bucket(f"{scheme}://{name}")
        for i in range(3):
            quarry.put(f"{scheme}://{name}/d/{i}.txt", b"".join(
                b"%s,%d,%d\n" % (scheme.encode(), i, j) for j in range(2000)))
        prefixes.append(f"{scheme}://{name}/d/")
    yield prefixes
    for scheme in _SERVERS:
        quarry.delete(f"{scheme}://{name}/", recursive=True)


def _first_fields(obj):
    return sorted({line.split(b",")[0] for line in obj.lines()}), obj.uri.split(":")[0]


@pytest.mark.usefixtures("local_ray")
def test_one_job_reads_s3_gs_and_az_together(three_clouds):
    for executor in ("local", "ray"):
        job = quarry.submit(_first_fields, three_clouds, chunk_size=7000, newline=b"\n",
                            executor=executor)
        results = job.result()
        schemes = [scheme for _, scheme in results]
        # Plan order: the inputs' order, then keys, then parts.
        assert schemes == sorted(schemes, key=["s3", "gs", "az"].index), executor
        assert set(schemes) == {"s3", "gs", "az"}
        for fields, scheme in results:
            assert fields == [scheme.encode()], (executor, scheme, fields)
        counted = quarry.map(lambda obj: sum(1 for _ in obj.lines()), three_clouds,
                             chunk_size=7000, newline=b"\n", executor=executor)
        assert sum(counted) == 3 * 3 * 2000, executor


def test_one_native_plan_lists_every_cloud_with_its_own_options(three_clouds):
    # The engine's plan takes the options of every scheme at once, keyed by scheme: one plan
    # over the three inputs, each listed and read with its own cloud's options.
    from quarry import _quarry
    plan = quarry.plan(three_clouds)
    native = _quarry.Plan(plan.inputs, plan._native_options, dict(plan.storage_options))
    parts = native.next(100)
    assert [p.scheme for p in parts] == ["s3"] * 3 + ["gs"] * 3 + ["az"] * 3
    assert native.list_pages == 3
    # A wrong endpoint for gs alone: the s3 input still lists, the gs input fails naming it.
    wrong = dict(plan.storage_options, gs={"endpoint": "http://127.0.0.1:9", "max_attempts": "1"})
    native = _quarry.Plan(plan.inputs, plan._native_options, wrong)
    assert [p.scheme for p in native.next(3)] == ["s3"] * 3
    with pytest.raises(quarry.QuarryError, match="127.0.0.1:9"):
        native.next(3)
    # The Python plan is that one native plan: its pages count across the inputs.
    assert len(list(plan)) == 9 and plan.list_pages == 3
