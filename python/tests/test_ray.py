"""quarry on a local Ray: order, the partitioning contract, failures, map_reduce, Ray Data."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry

pytestmark = pytest.mark.usefixtures("local_ray")


def test_500_objects_results_in_plan_order(bucket):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: quarry.put(f"s3://{bucket}/many/{i:04d}", str(i).encode()),
                      range(500)))
    job = quarry.submit(lambda obj: (obj.key, int(obj.read())), f"s3://{bucket}/many/")
    results = job.result()
    assert [r[1] for r in results] == list(range(500))
    s = job.stats
    assert s["executor"] == "ray" and s["partitions"] == 500
    assert 1 <= s["tasks"] < 500          # batched
    assert s["credential_fetches"] == 0  # static keys: resolved on the driver, no exchange
    assert s["bytes_read"] >= sum(len(str(i)) for i in range(500))
    # Explicit batching.
    job = quarry.submit(lambda obj: obj.key, f"s3://{bucket}/many/", partitions_per_task=100)
    assert len(job.result()) == 500 and job.stats["tasks"] == 5


def _records(data, sep):
    out, start = [], 0
    while start < len(data):
        p = data.find(sep, start)
        end = len(data) if p < 0 else p + len(sep)
        out.append((start, data[start:end]))
        start = end
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"\n")),
       sep=st.sampled_from([b"\n", b"\r\n", b"\x1e"]),
       chunk=st.integers(min_value=1, max_value=64),
       header=st.booleans())
def test_line_chunks_on_ray_follow_the_contract(bucket, data, sep, chunk, header):
    data = data.replace(b"\n", sep) if sep != b"\n" else data
    uri = f"s3://{bucket}/prop"
    quarry.put(uri, data)
    out = quarry.map(lambda obj: (obj.byte_range, obj.header, obj.read(), list(obj.lines()),
                                  obj.data_stream.count_records()),
                     uri, chunk_size=chunk, newline=sep, header=header)
    records = _records(data, sep)
    expected_header = records[0][1] if records else b""
    joined = b""
    for (a, b), head, got, lines, count in out:
        want = [r for i, (s, r) in enumerate(records) if a <= s < b and not (header and i == 0)]
        assert got == b"".join(want)
        assert lines == want
        assert count == len(want)
        if header:
            assert head == expected_header
        joined += got
    assert (expected_header if header else b"") + joined == data


def test_open_ahead_changes_when_data_is_fetched_not_what_is_delivered(bucket):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: quarry.put(f"s3://{bucket}/a/{i:03d}", b"%d\n" % i * (i + 1)),
                      range(120)))
    uri = f"s3://{bucket}/a/"
    want = [b"%d\n" % i * (i + 1) for i in range(120)]
    for ahead in (0, 1, 4, 200):
        read = quarry.map(lambda obj: obj.read(), uri, partitions_per_task=40, open_ahead=ahead)
        assert read == want, ahead
        counted = quarry.map(lambda obj: obj.data_stream.count_records(), uri,
                             partitions_per_task=40, open_ahead=ahead)
        assert counted == [i + 1 for i in range(120)], ahead
    # A function that never touches the data costs no request, opened ahead or not.
    job = quarry.submit(lambda obj: obj.key, uri, partitions_per_task=40, num_threads=3)
    assert len(job.result()) == 120 and job.stats["requests"] == 0  # (num_threads: local only)
    # One that reads every tenth partition makes about one request per partition it reads (and
    # the few opened ahead behind each of those), not one for every partition.
    job = quarry.submit(lambda obj: obj.read() if obj.key.endswith("0") else obj.key, uri,
                        partitions_per_task=40)
    assert len(job.result()) == 120 and 12 <= job.stats["requests"] <= 12 * 5
    # An object replaced after planning fails its own partition, also when opened ahead: the
    # failure reaches the function where it asks for the data.
    def fn(obj):
        if obj.key.endswith("/000"):
            quarry.put(f"s3://{bucket}/a/013", b"replaced")
        return obj.read()

    with pytest.raises(quarry.TaskError) as e:
        quarry.map(fn, uri, partitions_per_task=40)
    assert e.value.uri == f"s3://{bucket}/a/013"
    assert isinstance(e.value.cause, quarry.PreconditionFailed)
    with pytest.raises(ValueError, match="open_ahead"):
        quarry.map(fn, uri, open_ahead=-1)


def test_failed_partition_raises_task_error_naming_it(bucket):
    for i in range(20):
        quarry.put(f"s3://{bucket}/f/{i:02d}", b"x")

    def fn(obj):
        if obj.key.endswith("13"):
            raise KeyError("record 42 is broken")
        return 1

    with pytest.raises(quarry.TaskError) as e:
        quarry.map(fn, f"s3://{bucket}/f/", partitions_per_task=3)
    assert e.value.uri == f"s3://{bucket}/f/13" and e.value.part == 0
    assert isinstance(e.value.cause, KeyError)
    assert "record 42 is broken" in str(e.value)
    assert "raise KeyError" in e.value.remote_traceback


def test_missing_bucket_is_not_found():
    with pytest.raises(quarry.NotFound, match="quarry-no-such-bucket-abc"):
        quarry.map(lambda o: 1, "s3://quarry-no-such-bucket-abc/")


def test_map_reduce_per_object(bucket):
    for name, n in (("a.txt", 30), ("b.txt", 7), ("c.txt", 0)):
        quarry.put(f"s3://{bucket}/r/{name}", b"line\n" * n)
    counts = quarry.map_reduce(lambda obj: sum(1 for _ in obj.lines()), f"s3://{bucket}/r/", sum,
                               reduce_by_object=True, chunk_size=16, newline=b"\n")
    assert counts == [30, 7, 0]
    assert quarry.map_reduce(lambda obj: len(obj.read()), f"s3://{bucket}/r/", sum,
                             chunk_size=16, newline=b"\n") == 37 * 5


def test_ray_data_reader(bucket):
    quarry.put(f"s3://{bucket}/d/1.csv", b"k,v\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(100)))
    quarry.put(f"s3://{bucket}/d/2.csv", b"k,v\n" + b"".join(b"%d,%d\n" % (i, 2 * i) for i in range(50)))
    lines = quarry.data.read(f"s3://{bucket}/d/", format="lines", chunk_size=64)
    assert lines.count() == 152
    df = quarry.data.read(f"s3://{bucket}/d/", format="csv", chunk_size=100).to_pandas()
    assert len(df) == 150 and df["v"].sum() == sum(range(100)) + 2 * sum(range(50))
    blobs = quarry.data.read(f"s3://{bucket}/d/", format="binary").take_all()
    assert sorted(len(r["bytes"]) for r in blobs) == sorted(
        [quarry.stat(f"s3://{bucket}/d/1.csv").size, quarry.stat(f"s3://{bucket}/d/2.csv").size])
