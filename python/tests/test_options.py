"""Options are checked once, at the API edge: a bad value is an InvalidArgument (a ValueError)
naming the option, the value and what is allowed; nothing is silently taken to mean something
else. And a partition carries the credentials of its own scheme only."""

import os
import pickle

import pytest

import quarry


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    return str(path)


@pytest.mark.parametrize("option, value, says", [
    ("chunk_size", -1, "chunk_size=-1 is not allowed"),
    ("chunk_size", "abc", "chunk_size='abc' is not allowed"),
    ("chunk_size", 1.5, "chunk_size=1.5 is not allowed"),
    ("chunk_size", 10**30, "chunk_size=1000000000000000000000000000000 is not allowed"),
    ("chunk_size", 0, "chunk_size=0 is not allowed: give a positive number of bytes"),
    ("chunk_size", True, "chunk_size=True is not allowed"),
    ("chunk_number", -1, "chunk_number=-1 is not allowed"),
    ("chunk_number", 0, "chunk_number=0 is not allowed: give a positive number of partitions"),
    ("read_window", -1, "read_window=-1 is not allowed"),
    ("part_size", 0, "part_size=0 is not allowed"),
    ("readahead", 0, "readahead=0 is not allowed: give a number of ranged GETs in flight"),
    ("readahead", -2, "readahead=-2 is not allowed"),
    ("newline", b"", "newline is empty"),
    ("newline", 123, "newline=123 is not allowed: give bytes"),
    ("header", "yes", "header='yes' is not allowed: give True or False"),
    ("decompress", "gzip", "decompress='gzip' is not allowed: give 'auto' or False"),
])
def test_bad_plan_option_is_invalid_argument_naming_it(csv_file, option, value, says):
    options = {option: value}
    if option == "header":
        options["newline"] = b"\n"
    with pytest.raises(quarry.InvalidArgument, match=says.replace("(", r"\(").replace(".", r"\.")
                       .replace("*", r"\*")) as info:
        quarry.plan(csv_file, **options)
    assert isinstance(info.value, ValueError)
    # The same check guards map and submit, before anything runs.
    with pytest.raises(quarry.InvalidArgument):
        quarry.map(len, csv_file, executor="local", **options)


def test_good_plan_options_still_work(csv_file):
    import numpy as np
    parts = list(quarry.plan(csv_file, chunk_size=np.int64(4), newline="\n", header=True))
    assert b"".join(p.read() for p in parts) == b"1,2\n3,4\n"
    assert all(p.header == b"a,b\n" for p in parts)
    assert len(list(quarry.plan(csv_file, chunk_number=2, decompress=False))) == 2


@pytest.mark.parametrize("kwargs, says", [
    ({"partitions_per_task": 0}, "partitions_per_task=0 is not allowed"),
    ({"partitions_per_task": "2"}, "partitions_per_task='2' is not allowed"),
    ({"num_threads": 0}, "num_threads=0 is not allowed"),
    ({"open_ahead": -1}, "open_ahead=-1 is not allowed"),
    ({"open_ahead": True}, "open_ahead=True is not allowed"),
    ({"extra_args": 5}, "extra_args=5 is not allowed"),
    ({"executor": "dask"}, "executor='dask'"),
])
def test_bad_job_option_is_invalid_argument(csv_file, kwargs, says):
    with pytest.raises(quarry.InvalidArgument, match=says):
        quarry.map(len, csv_file, **kwargs)


def test_uncallable_function_is_invalid_argument(csv_file):
    with pytest.raises(quarry.InvalidArgument, match="not callable"):
        quarry.map("len", csv_file, executor="local")


@pytest.mark.parametrize("storage_options, says", [
    ("endpoint=x", "storage_options='endpoint=x' is not allowed: give a dict"),
    ({"s3": {"region": "x"}, "endpoint": "http://x"}, "mixes scheme keys"),
    ({"file": "http://x"}, r"storage_options\['file'\]='http://x' is not allowed"),
    ({"endpoint": ["http://x"]}, r"storage_options\['endpoint'\] is a list"),
])
def test_bad_storage_options_are_invalid_argument(csv_file, storage_options, says):
    with pytest.raises(quarry.InvalidArgument, match=says):
        quarry.plan(csv_file, storage_options=storage_options)


def test_bad_storage_option_values_are_refused_naming_them(s3):
    for key, value, says in [
        ("verify_tls", "banana", "'verify_tls' = 'banana' is not allowed: give true or false"),
        ("max_attempts", -3, "'max_attempts' = '-3' is not allowed: give a whole number"),
    ]:
        with pytest.raises(quarry.InvalidArgument, match=says):
            list(quarry.ls("s3://no-such-bucket-for-options/", storage_options={key: value}))


def test_bool_storage_options_are_understood(s3, bucket):
    # str(False) is "False": once it quietly meant yes. Now every spelling of no is no and every
    # spelling of yes is yes, and the store works with them.
    quarry.put(f"s3://{bucket}/k", b"abc")
    for value in (False, True, "False", "no", "OFF", 0, 1):
        assert quarry.get(f"s3://{bucket}/k",
                          storage_options={"receive_in_place": value}) == b"abc"


def test_partition_carries_only_its_own_schemes_credentials(s3, bucket, csv_file):
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    quarry.put(f"s3://{bucket}/x.csv", b"x\n")
    plan = quarry.plan([csv_file, f"s3://{bucket}/x.csv"],
                       storage_options={"s3": {"secret_access_key": secret}})
    parts = {p.uri.split(":", 1)[0]: p for p in plan}
    assert set(parts) == {"file", "s3"}
    assert secret.encode() not in pickle.dumps(parts["file"])
    assert os.environ["AWS_ACCESS_KEY_ID"].encode() not in pickle.dumps(parts["file"])
    # The s3 partition still has what it needs to read (its options travel with it).
    assert secret.encode() in pickle.dumps(parts["s3"])
    assert secret not in repr(parts["s3"])


def test_flat_options_of_a_mixed_plan_go_to_the_schemes_that_know_them(s3, bucket, csv_file):
    quarry.put(f"s3://{bucket}/y.csv", b"y\n")
    plan = quarry.plan([csv_file, f"s3://{bucket}/y.csv"],
                       storage_options={"endpoint": os.environ["AWS_ENDPOINT_URL"]})
    assert b"".join(p.read() for p in plan) == b"a,b\n1,2\n3,4\ny\n"
    # A key no scheme of the inputs knows is still a typo, named with the closest key.
    with pytest.raises(quarry.InvalidArgument, match="did you mean 'endpoint'"):
        quarry.plan([csv_file, f"s3://{bucket}/y.csv"], storage_options={"endpont": "x"})


def test_schemes_come_from_the_registry():
    from quarry import _quarry
    assert {"s3", "cos", "file", "mem"} <= set(_quarry.schemes())
    with pytest.raises(quarry.InvalidArgument, match="unknown scheme 'ftp'.*use one of s3, cos"):
        quarry.plan("ftp://host/x")
    with pytest.raises(quarry.InvalidArgument, match="unknown storage option 'account_key' for s3"):
        quarry.plan("s3://b/x", storage_options={"account_key": "k"})
