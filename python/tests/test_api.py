"""The storage API against the real RGW: ls, stat, get, put, delete, open, errors."""

import hashlib
import io
import os
import pickle

import pytest

import quarry


def test_put_get_ls_stat_delete(bucket):
    base = f"s3://{bucket}"
    quarry.put(f"{base}/dir/a.bin", b"x" * 1000)
    quarry.put(f"{base}/dir/b b+%41.txt", io.BytesIO(b"hello"))
    quarry.put(f"{base}/top", memoryview(b"abc"))
    infos = list(quarry.ls(f"{base}/"))
    assert [i.key for i in infos] == ["dir/a.bin", "dir/b b+%41.txt", "top"]
    assert infos[0].size == 1000 and infos[0].etag and infos[0].uri == f"{base}/dir/a.bin"
    assert [i.key for i in quarry.ls(f"{base}/", recursive=False)] == ["top"]
    assert quarry.get(f"{base}/dir/b b+%41.txt") == b"hello"
    assert quarry.get(f"{base}/dir/a.bin", start=10, stop=15) == b"xxxxx"
    assert quarry.stat(f"{base}/top").size == 3
    assert quarry.delete(f"{base}/top") == 1
    assert quarry.delete(f"{base}/dir/", recursive=True) == 2
    assert list(quarry.ls(f"{base}/")) == []


def test_large_put_get_by_hash(bucket):
    data = os.urandom(40 << 20)
    uri = f"s3://{bucket}/large.bin"
    quarry.put(uri, data)
    got = quarry.get(uri)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    with quarry.open(uri) as f:
        f.seek(12345)
        assert f.read(100) == data[12345:12445]
        assert f.tell() == 12445


def test_open_is_a_binary_file(bucket):
    uri = f"s3://{bucket}/lines.txt"
    quarry.put(uri, b"one\ntwo\nthree")
    with quarry.open(uri) as f:
        assert f.readline() == b"one\n"
        assert list(f) == [b"two\n", b"three"]
        f.seek(0)
        assert f.read() == b"one\ntwo\nthree"
        f.seek(-5, io.SEEK_END)
        assert f.read() == b"three"
    assert quarry.open(uri, start=4, stop=7).read() == b"two"
    text = io.TextIOWrapper(quarry.open(uri), encoding="utf-8")
    assert text.read().splitlines() == ["one", "two", "three"]


def test_ls_of_a_bare_scheme_lists_buckets(bucket):
    buckets = list(quarry.ls("s3://"))
    mine = [b for b in buckets if b.bucket == bucket]
    assert mine and mine[0].uri == f"s3://{bucket}/" and mine[0].creation_date.startswith("20")
    assert [b.bucket for b in buckets] == sorted(b.bucket for b in buckets)
    with pytest.raises(ValueError, match="give a path"):
        list(quarry.ls("file://"))


def test_readinto_fills_any_writable_buffer(bucket):
    np = pytest.importorskip("numpy")
    uri = f"s3://{bucket}/bytes"
    quarry.put(uri, bytes(range(256)))
    f = quarry.open(uri)
    ba = bytearray(10)
    assert f.readinto(ba) == 10 and bytes(ba) == bytes(range(10))
    mv = memoryview(bytearray(20))
    assert f.readinto(mv[5:15]) == 10 and bytes(mv[5:15]) == bytes(range(10, 20))
    arr = np.zeros(300, dtype=np.uint8)
    assert f.readinto(arr) == 236
    assert arr[0] == 20 and arr[235] == 255


def test_errors_are_quarry_and_builtin_classes(bucket, monkeypatch):
    with pytest.raises(quarry.NotFound) as e:
        list(quarry.ls("s3://quarry-no-such-bucket-xyz/"))
    assert isinstance(e.value, FileNotFoundError)
    assert "quarry-no-such-bucket-xyz" in str(e.value) and "does not exist" in str(e.value)
    with pytest.raises(FileNotFoundError, match="no object with key 'missing'"):
        quarry.get(f"s3://{bucket}/missing")
    with pytest.raises(ValueError, match="malformed URI 's3:/'"):
        quarry.get("s3:/")
    with pytest.raises(quarry.InvalidArgument, match="unknown scheme 'ftp'"):
        quarry.plan("ftp://x/y")
    with pytest.raises(PermissionError) as denied:
        quarry.get(f"s3://{bucket}/k", storage_options={"secret_access_key": "WrongSecret123456"})
    assert "WrongSecret123456" not in str(denied.value)
    with pytest.raises(ConnectionError, match="cannot reach endpoint http://127.0.0.1:9"):
        quarry.get(f"s3://{bucket}/k", storage_options={"endpoint": "http://127.0.0.1:9"})
    with pytest.raises(quarry.InvalidArgument, match="separator"):
        quarry.plan(f"s3://{bucket}/", newline=b"aa")
    with pytest.raises(quarry.NotFound, match="matched no object"):
        list(quarry.plan(f"s3://{bucket}/nothing/"))


def test_partition_pickles_without_handles_or_secrets(bucket):
    uri = f"s3://{bucket}/p.csv"
    quarry.put(uri, b"a,b\n1,2\n3,4\n")
    plan = quarry.plan(uri, chunk_size=5, newline=b"\n", header=True,
                       storage_options={"secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"]})
    parts = list(plan)
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    for p in parts:
        _ = p.data_stream  # open it: the stream must not travel
        clone = pickle.loads(pickle.dumps(p))
        assert clone == p and clone.byte_range == p.byte_range
        assert clone.header == b"a,b\n"
        assert clone.read() == p.read()
        assert secret not in repr(p) and secret not in repr(plan)
        assert len(pickle.dumps(p)) < 2000
    assert b"".join(p.read() for p in parts) == b"1,2\n3,4\n"


def test_partition_and_plan_options_cross_into_the_engine_as_its_own_types(bucket):
    # A partition holds the engine's partition and plan options (typed, checked once when the
    # plan was made), not dicts rebuilt on every open; both pickle as their values.
    from quarry import _quarry
    uri = f"s3://{bucket}/typed.csv"
    quarry.put(uri, b"k\n" + b"".join(b"%d\n" % i for i in range(100)))
    (p,) = list(quarry.plan(uri, newline=b"\n", header=True, part_size=1 << 20))
    assert isinstance(p._native, _quarry.Partition) and isinstance(p._options, _quarry.PlanOptions)
    assert (p._native.bucket, p._native.key, p._native.size) == (bucket, "typed.csv", p.size)
    assert (p._options.newline, p._options.header, p._options.part_size) == (b"\n", True, 1 << 20)
    options = pickle.loads(pickle.dumps(p._options))
    assert (options.newline, options.header, options.part_size) == (b"\n", True, 1 << 20)
    native = pickle.loads(pickle.dumps(p._native))
    assert native == p._native and native.etag == p.etag
    assert p.header == b"k\n" and p.read().count(b"\n") == 100
    with pytest.raises(quarry.InvalidArgument, match="readahead"):
        _quarry.PlanOptions({"readahead": 0})


def test_local_executor_map_in_order_and_stats(bucket):
    for i in range(50):
        quarry.put(f"s3://{bucket}/o/{i:03d}", str(i).encode())
    job = quarry.submit(lambda obj: int(obj.read()), f"s3://{bucket}/o/", executor="local")
    assert job.result() == list(range(50))
    s = job.stats
    for key in ("partitions", "tasks", "bytes_read", "requests", "retries", "credential_fetches",
                "list_pages", "wall_seconds"):
        assert key in s
    # Static keys: nothing to exchange.
    assert s["partitions"] == 50 and s["credential_fetches"] == 0 and s["list_pages"] == 1
    assert s["requests"] >= 50
    done, known, listing_done = job.progress
    assert done == known == 50 and listing_done


def test_pil_and_pandas_read_from_data_stream(bucket):
    Image = pytest.importorskip("PIL.Image")
    pd = pytest.importorskip("pandas")
    buf = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 10, 30)).save(buf, format="PNG")
    quarry.put(f"s3://{bucket}/img.png", buf.getvalue())
    quarry.put(f"s3://{bucket}/t.csv", b"x,y\n1,2\n3,4\n")
    (obj,) = list(quarry.plan(f"s3://{bucket}/img.png"))
    with Image.open(obj.data_stream) as im:
        assert im.size == (32, 16) and im.getpixel((3, 3)) == (200, 10, 30)
    (csv_obj,) = list(quarry.plan(f"s3://{bucket}/t.csv"))
    df = pd.read_csv(csv_obj.data_stream)
    assert df["y"].sum() == 6
    import csv
    csv_obj.data_stream.seek(0)  # pandas read it to the end
    rows = list(csv.reader(io.TextIOWrapper(csv_obj.data_stream, encoding="utf-8", newline="")))
    assert rows == [["x", "y"], ["1", "2"], ["3", "4"]]


def test_a_misspelt_storage_option_is_refused_naming_the_right_one(bucket):
    with pytest.raises(quarry.InvalidArgument, match="'endpont' for s3: did you mean 'endpoint'"):
        list(quarry.ls(f"s3://{bucket}/", storage_options={"endpont": "http://127.0.0.1:1"}))


def test_failed_put_releases_the_buffer():
    data = bytearray(b"payload")
    with pytest.raises(quarry.InvalidArgument):
        quarry.put("s3:/", data)
    with pytest.raises(quarry.InvalidArgument):
        quarry.put("s3://bucket/k", data, storage_options={"addressing_style": "sideways"})
    data.extend(b" grows")  # raises BufferError if the failed call kept the buffer exported
    assert data == b"payload grows"


def test_chunks_are_views_of_the_received_bytes(bucket):
    import gc
    import gzip

    data = b"id,name\n" + b"".join(b"%d,row-%d\n" % (i, i * 7) for i in range(60000))
    quarry.put(f"s3://{bucket}/t.csv", data)
    quarry.put(f"s3://{bucket}/t.csv.gz", gzip.compress(data))
    for key in ("t.csv", "t.csv.gz"):
        for kw in ({}, {"chunk_size": 100_000, "newline": b"\n"},
                   {"chunk_size": 100_000, "newline": b"\n", "header": True, "read_window": 4096}):
            parts = list(quarry.plan(f"s3://{bucket}/{key}", **kw))
            held, pieces = [], []
            for obj in parts:
                stream = obj.data_stream
                for view in stream.chunks(4099):
                    assert isinstance(view, memoryview) and view.readonly
                    assert 0 < len(view) <= 4099
                    pieces.append(bytes(view))
                    held.append(view)  # kept past the next read and past the stream's close
                assert len(stream.read_chunk()) == 0  # the end stays the end
                stream.close()
            whole = b"".join(pieces)
            header = b"id,name\n"
            assert whole == (data[len(header):] if kw.get("header") else data)
            if kw.get("header"):
                assert all(obj.header == header for obj in parts)
            # Split only when asked to, and never a gzip object.
            assert (len(parts) > 1) == (key == "t.csv" and "chunk_size" in kw)
            # Old views stay safe to touch (the memory is theirs until they go).
            assert sum(len(v) for v in held) == len(whole)
            del held
            gc.collect()
    with quarry.open(f"s3://{bucket}/t.csv", start=3, stop=10) as f:
        assert bytes(f.read_chunk(4)) == data[3:7] and bytes(f.read_chunk()) == data[7:10]
        with pytest.raises(TypeError):
            f.read_chunk()[0:1] = b"x"  # read-only: the buffer is the stream's


def test_count_records_counts_what_lines_would_yield(bucket):
    import gzip

    data = b"a,b\r\n" + b"".join(b"%d,%d\r\n" % (i, i * 3) for i in range(50000)) + b"tail"
    quarry.put(f"s3://{bucket}/c.csv", data)
    quarry.put(f"s3://{bucket}/c.csv.gz", gzip.compress(data))
    for key, kw in (("c.csv", {"newline": b"\r\n", "chunk_size": 70_001, "header": True}),
                    ("c.csv", {"newline": b"\r\n", "chunk_size": 4096, "read_window": 1000}),
                    ("c.csv.gz", {"newline": b"\r\n"}),
                    ("c.csv", {})):  # byte mode: records end at b"\n"
        counts = quarry.map(lambda obj: obj.data_stream.count_records(), f"s3://{bucket}/{key}",
                            executor="local", **kw)
        expect = sum(len(list(obj.lines())) for obj in quarry.plan(f"s3://{bucket}/{key}", **kw))
        assert sum(counts) == expect == 50002 - (1 if kw.get("header") else 0), (key, kw)
    # From the current position: a record begun by read() counts as one.
    obj = next(iter(quarry.plan(f"s3://{bucket}/c.csv", newline=b"\r\n")))
    assert obj.data_stream.read(2) == b"a,"
    assert obj.data_stream.count_records() == 50002
    assert obj.data_stream.count_records() == 0  # at the end


def test_executor_objects_run_one_call_per_partition(bucket):
    import multiprocessing
    import operator
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    for i in range(30):
        quarry.put(f"s3://{bucket}/e/{i:02d}", b"%d" % i * (i + 1))
    uri = f"s3://{bucket}/e/"
    want = [b"%d" % i * (i + 1) for i in range(30)]
    quarry.get(f"s3://{bucket}/e/00")  # this process now holds idle connections
    with ThreadPoolExecutor(3) as threads:
        job = quarry.submit(operator.methodcaller("read"), uri, executor=threads)
        assert job.result() == want
        assert job.stats["executor"] == "ThreadPoolExecutor" and job.stats["requests"] >= 30
    # Forked and spawned processes: the function and partitions travel by pickle; stats come
    # back with each call. Forked children must not send on the connections they inherited.
    for method in ("fork", "spawn"):
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as procs:
            job = quarry.submit(operator.methodcaller("read"), uri, executor=procs)
            assert job.result() == want, method
            assert job.stats["tasks"] == 30 and job.stats["requests"] >= 30, method
    with ThreadPoolExecutor(2) as threads:
        with pytest.raises(quarry.TaskError) as e:
            quarry.map(operator.methodcaller("no_such_method"), uri, executor=threads)
        assert e.value.uri == f"s3://{bucket}/e/00"
    with pytest.raises(ValueError, match="executor object with submit"):
        quarry.map(len, uri, executor=42)


def test_a_forked_child_and_its_parent_keep_their_connections_apart(bucket):
    import os

    blobs = {f"s3://{bucket}/k/{i}": os.urandom(1000 + i * 7919) for i in range(8)}
    for uri, data in blobs.items():
        quarry.put(uri, data)
    for uri, data in blobs.items():  # idle kept-alive connections in the parent's pool
        assert quarry.get(uri) == data
        with quarry.open(uri) as f:  # in-place receive has a pool of its own
            assert f.read() == data
    pid = os.fork()
    if pid == 0:
        ok = True
        try:
            for _ in range(25):
                for uri, data in blobs.items():
                    with quarry.open(uri) as f:
                        ok = ok and quarry.get(uri) == data and f.read() == data
        except BaseException:  # noqa: BLE001 - reported through the exit status
            ok = False
        os._exit(0 if ok else 1)
    for _ in range(25):
        for uri, data in blobs.items():
            with quarry.open(uri) as f:
                assert quarry.get(uri) == data and f.read() == data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_content_encoding_is_stored_and_decoded(bucket):
    import zlib

    text = b"".join(b"row%d,%d\n" % (i, i * 3) for i in range(2000))
    uri = f"s3://{bucket}/table"  # no suffix, and zlib has no magic Quarry knows
    quarry.put(uri, zlib.compress(text), content_type="text/csv", content_encoding="deflate")
    info = quarry.stat(uri)
    assert (info.content_type, info.content_encoding) == ("text/csv", "deflate")
    # Never split, decoded by the Content-Encoding; raw bytes when decompress=False.
    parts = list(quarry.plan(uri, chunk_size=1000, newline="\n"))
    assert len(parts) == 1
    lines = quarry.map(lambda obj: obj.data_stream.read().count(b"\n"), uri, chunk_size=1000,
                       newline="\n", executor="local")
    assert lines == [2000]
    raw = quarry.map(lambda obj: obj.data_stream.read(), uri, chunk_size=1000,
                     decompress=False, executor="local")
    assert b"".join(raw) == zlib.compress(text)


def test_stream_tuning_options_reach_the_stream(bucket):
    # One request per partition through a 4 KiB ring; an invalid window is refused up front.
    data = b"".join(b"%d,record\n" % i for i in range(30000))
    uri = f"s3://{bucket}/tuned.csv"
    quarry.put(uri, data)
    counts = quarry.map(lambda obj: obj.data_stream.read().count(b"\n"), uri,
                        chunk_size=100_000, newline=b"\n", part_size=1 << 20, readahead=1,
                        read_window=4096, executor="local")
    assert sum(counts) == 30000 and len(counts) == -(-len(data) // 100_000)
    with pytest.raises(ValueError, match="read_window"):
        quarry.plan(uri, read_window=0)
