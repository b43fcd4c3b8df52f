"""quarry.fsspec against the real servers: fsspec's own abstract test suite (copy, get, put,
open, pipe) on RGW (and on the GCS and Azure emulators when this build has those schemes),
listings and folder markers, pandas, pyarrow and Dask-style use, and the bytes a random-access
read moves, counted at the wire by the tests' proxy."""

import io
import os
import pickle
import posixpath
import subprocess
import sys
import time
import uuid

import pytest

fsspec = pytest.importorskip("fsspec")
import fsspec.tests.abstract as abstract  # noqa: E402

import quarry  # noqa: E402
import quarry.fsspec  # noqa: E402
from quarry import _quarry  # noqa: E402

# Schemes the abstract suite runs on, each with the variable that says its server runs (mem,
# in this process, needs none).
_SERVERS = {"s3": "QUARRY_TEST_S3", "gs": "QUARRY_TEST_GS", "az": "QUARRY_TEST_AZ", "mem": None}


def _new_fs(scheme, **options):
    return quarry.fsspec.filesystem_class(scheme)(skip_instance_cache=True, **options)


@pytest.fixture(scope="module", params=sorted(_SERVERS))
def store(request):
    """(filesystem, bucket) of one scheme, the bucket made for this module and emptied after."""
    scheme = request.param
    if scheme not in _quarry.schemes():
        pytest.skip(f"this build of Quarry has no {scheme} backend")
    if _SERVERS[scheme] and os.environ.get(_SERVERS[scheme]) != "1":
        pytest.skip(f"needs the {scheme} server: scripts/test-servers start && "
                    "eval \"$(scripts/test-servers env)\"")
    fs = _new_fs(scheme)
    bucket = "quarry-fsspec-" + uuid.uuid4().hex[:12]
    fs.mkdir(bucket)
    yield fs, bucket
    try:
        fs.rm(bucket, recursive=True)
    except FileNotFoundError:
        pass


class QuarryFixtures(abstract.AbstractFixtures):
    @pytest.fixture
    def fs(self, store):
        return store[0]

    @pytest.fixture
    def fs_path(self, store):
        fs, bucket = store
        path = f"{bucket}/t-{uuid.uuid4().hex[:8]}"
        yield path
        try:
            fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self):
        return False  # a directory exists while keys lie under it


class TestQuarryCopy(abstract.AbstractCopyTests, QuarryFixtures):
    pass


class TestQuarryGet(abstract.AbstractGetTests, QuarryFixtures):
    pass


class TestQuarryPut(abstract.AbstractPutTests, QuarryFixtures):
    pass


class TestQuarryOpen(abstract.AbstractOpenTests, QuarryFixtures):
    pass


class TestQuarryPipe(abstract.AbstractPipeTests, QuarryFixtures):
    pass


# Listings, folder markers, the prefix rule ------------------------------------------------------


@pytest.fixture
def s3fs_(s3, bucket):
    """A Quarry filesystem over RGW and a fresh bucket."""
    return _new_fs("s3"), bucket


def test_ls_info_and_find_treat_folder_markers_as_directories(s3fs_):
    fs, b = s3fs_
    quarry.put(f"s3://{b}/d/", b"")          # folder markers, as consoles make them
    quarry.put(f"s3://{b}/d/empty/", b"")
    quarry.put(f"s3://{b}/d/f.txt", b"abc")
    quarry.put(f"s3://{b}/d/sub/g.txt", b"defg")
    quarry.put(f"s3://{b}/d-other", b"sibling")
    quarry.put(f"s3://{b}/dx/h", b"x")

    entries = fs.ls(f"{b}/d")
    assert [(e["name"], e["type"]) for e in entries] == [
        (f"{b}/d/empty", "directory"), (f"{b}/d/f.txt", "file"), (f"{b}/d/sub", "directory")]
    f_entry = entries[1]
    assert f_entry["size"] == 3 and f_entry["etag"] and f_entry["mtime"].tzinfo is not None
    assert fs.ls(f"s3://{b}/d/", detail=False) == [e["name"] for e in entries]
    assert fs.info(f"{b}/d/empty") == {"name": f"{b}/d/empty", "size": 0, "type": "directory"}
    assert fs.isdir(f"{b}/d/empty") and not fs.isfile(f"{b}/d/empty")
    assert fs.ls(f"{b}/d/empty") == []
    assert fs.info(f"{b}/d/sub/g.txt")["size"] == 4
    # Files only; with withdirs the directories too (the markers among them), never siblings.
    assert fs.find(f"{b}/d") == [f"{b}/d/f.txt", f"{b}/d/sub/g.txt"]
    assert fs.find(f"{b}/d", withdirs=True) == [
        f"{b}/d", f"{b}/d/empty", f"{b}/d/f.txt", f"{b}/d/sub", f"{b}/d/sub/g.txt"]
    assert fs.find(f"{b}/d", maxdepth=1) == [f"{b}/d/f.txt"]
    assert fs.find(b, withdirs=True)[:2] == [b, f"{b}/d"]
    assert fs.find(b) == [f"{b}/d-other", f"{b}/d/f.txt", f"{b}/d/sub/g.txt", f"{b}/dx/h"]
    assert fs.glob(f"{b}/d/**/*.txt") == [f"{b}/d/f.txt", f"{b}/d/sub/g.txt"]
    assert sorted(fs.glob(f"{b}/d*")) == [f"{b}/d", f"{b}/d-other", f"{b}/dx"]
    assert [(root, sorted(dirs), sorted(files)) for root, dirs, files in fs.walk(f"{b}/d")] == [
        (f"{b}/d", ["empty", "sub"], ["f.txt"]), (f"{b}/d/empty", [], []),
        (f"{b}/d/sub", [], ["g.txt"])]
    assert fs.ls(b, detail=False) == [f"{b}/d", f"{b}/d-other", f"{b}/dx"]
    assert f"{b}" in fs.ls("", detail=False)  # the buckets
    assert fs.info(b)["type"] == "directory"
    assert fs.du(f"{b}/d") == 7

    with pytest.raises(FileNotFoundError):
        fs.ls(f"{b}/nothing")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{b}/d/nothing")
    assert not fs.exists(f"{b}/d/f")  # a prefix of a key is not a path
    with pytest.raises(FileNotFoundError):
        fs.ls(f"quarry-no-such-bucket-{uuid.uuid4().hex[:8]}")
    assert not fs.exists(f"quarry-no-such-bucket-{uuid.uuid4().hex[:8]}/k")


def test_rm_recursive_never_touches_sibling_keys(s3fs_):
    fs, b = s3fs_
    for key in ("a", "a/x", "a/y/z", "a/m/", "ab", "a-b/c"):
        quarry.put(f"s3://{b}/{key}", b"" if key.endswith("/") else b"1")
    fs.rm(f"{b}/a", recursive=True)  # the file a and the directory a/, markers too
    assert sorted(i.key for i in quarry.ls(f"s3://{b}/")) == ["a-b/c", "ab"]
    with pytest.raises(FileNotFoundError):
        fs.rm(f"{b}/a", recursive=True)
    with pytest.raises(FileNotFoundError):
        fs.rm_file(f"{b}/a")
    fs.rm([f"{b}/ab", f"{b}/a-b/c"])
    assert fs.ls(b) == []


def test_listings_cache_follows_writes_through_the_filesystem(s3fs_):
    fs, b = s3fs_
    fs.pipe(f"{b}/p/one", b"1")
    assert fs.ls(f"{b}/p", detail=False) == [f"{b}/p/one"]
    fs.pipe(f"{b}/p/two", b"22")
    with fs.open(f"{b}/p/three", "wb") as f:
        f.write(b"333")
    fs.cp_file(f"{b}/p/one", f"{b}/p/q/four")
    assert fs.ls(f"{b}/p", detail=False) == [f"{b}/p/one", f"{b}/p/q", f"{b}/p/three",
                                             f"{b}/p/two"]
    quarry.put(f"s3://{b}/p/five", b"5")  # behind the filesystem's back
    assert f"{b}/p/five" not in fs.ls(f"{b}/p", detail=False)
    assert f"{b}/p/five" in fs.ls(f"{b}/p", detail=False, refresh=True)
    fs.rm(f"{b}/p/two")
    assert f"{b}/p/two" not in fs.ls(f"{b}/p", detail=False)
    quarry.delete(f"s3://{b}/p/one")
    fs.invalidate_cache()
    assert f"{b}/p/one" not in fs.ls(f"{b}/p", detail=False)


def test_info_checksum_modified_size_and_ranges(s3fs_):
    fs, b = s3fs_
    data = bytes(range(256)) * 40
    fs.pipe(f"s3://{b}/r.bin", data, content_type="application/x-test")
    info = fs.info(f"{b}/r.bin")
    assert info["size"] == len(data) == fs.size(f"{b}/r.bin")
    assert info["content_type"] == "application/x-test"
    assert fs.modified(f"{b}/r.bin") == info["mtime"]
    before = fs.checksum(f"{b}/r.bin")
    fs.pipe(f"{b}/r.bin", data[::-1])
    assert fs.checksum(f"{b}/r.bin") != before
    data = data[::-1]
    assert fs.cat_file(f"{b}/r.bin", 10, 20) == data[10:20]
    assert fs.cat_file(f"{b}/r.bin", -5) == data[-5:]
    assert fs.cat_file(f"{b}/r.bin", 100, -100) == data[100:-100]
    assert fs.cat_file(f"{b}/r.bin", len(data) - 3, len(data) + 100) == data[-3:]
    assert fs.cat_file(f"{b}/r.bin", 50, 40) == b""
    assert fs.cat_ranges([f"{b}/r.bin"] * 2, [0, 7], [3, 9]) == [data[:3], data[7:9]]
    assert fs.head(f"{b}/r.bin", 4) == data[:4] and fs.tail(f"{b}/r.bin", 4) == data[-4:]
    with pytest.raises(IsADirectoryError):
        fs.modified(b)
    with fs.open(f"{b}/r.bin") as f:
        assert f.size == len(data) and f.info()["size"] == len(data) and f.readable()
        f.seek(-8, io.SEEK_END)
        assert f.read() == data[-8:] and f.loc == len(data)
        f.seek(3)
        assert f.read(4) == data[3:7]
    with fs.open(f"{b}/r.bin", "rt", encoding="latin-1") as f:
        assert f.read(5) == data[:5].decode("latin-1")


def test_unknown_option_and_unsupported_mode_say_what_to_do(s3fs_):
    fs, b = s3fs_
    bad = _new_fs("s3", endpont="http://127.0.0.1:7480")
    with pytest.raises(ValueError, match="did you mean 'endpoint'"):
        bad.ls(b)
    with pytest.raises(NotImplementedError, match="append"):
        fs.open(f"{b}/x", "ab")
    with pytest.raises(quarry.InvalidArgument, match="unknown scheme 'ftp'.*s3"):
        quarry.fsspec.register("ftp")
    with pytest.raises(IsADirectoryError):
        fs.open(b, "rb")


# Writing ------------------------------------------------------------------------------------------


@pytest.fixture
def counting(s3):
    from fault_proxy import FaultProxy
    proxy = FaultProxy(os.environ["AWS_ENDPOINT_URL"])
    yield proxy
    proxy.close()


def test_large_write_goes_up_while_written_in_bounded_memory(s3, bucket, counting):
    import hashlib
    import tracemalloc

    block, blocks = 1 << 20, 24
    parts = {"multipart_threshold": 5 << 20, "part_size": 5 << 20}

    def write(fs, key, check_before_close):
        digest = hashlib.sha256()
        with fs.open(f"{bucket}/{key}", "wb", block_size=block) as f:
            for i in range(blocks):
                piece = bytes([i]) * block
                digest.update(piece)
                f.write(piece)
                del piece
            check_before_close()
        return digest.digest()

    def check(key, digest):
        assert quarry.stat(f"s3://{bucket}/{key}").size == blocks * block
        assert hashlib.sha256(quarry.get(f"s3://{bucket}/{key}")).digest() == digest

    def parts_went_up():
        # The multipart upload started and parts went up before the file was closed (the proxy
        # counts a request once it is through, so a part still in flight is waited for a little).
        deadline = time.monotonic() + 10
        while counting.requests < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counting.requests >= 3

    # max_attempts=1: every request goes through the proxy once, none is retried.
    proxied = _new_fs("s3", endpoint=counting.endpoint, max_attempts=1, **parts)
    check("a.bin", write(proxied, "a.bin", parts_went_up))

    # Memory, without the proxy (it holds request bodies in this process).
    tracemalloc.start()
    try:
        digest = write(_new_fs("s3", **parts), "b.bin", lambda: None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check("b.bin", digest)
    # The block being filled, at most two in the pipe, the engine's 4 MiB piece: not 24 MiB.
    assert peak < 10 * block


@pytest.mark.parametrize("size", [100, 3 << 20])
def test_write_left_by_an_exception_or_discarded_stores_nothing(s3fs_, size):
    fs, b = s3fs_
    with pytest.raises(RuntimeError):
        with fs.open(f"{b}/w", "wb", block_size=1 << 20) as f:
            f.write(b"x" * size)
            raise RuntimeError("stop")
    assert not fs.exists(f"{b}/w")
    with pytest.raises(RuntimeError):
        with fs.transaction:
            with fs.open(f"{b}/t", "wb", block_size=1 << 20) as f:
                f.write(b"y" * size)
            assert not fs.exists(f"{b}/t")  # not before the transaction commits
            raise RuntimeError("stop")
    assert not fs.exists(f"{b}/t")
    with fs.transaction:
        with fs.open(f"{b}/t", "wb", block_size=1 << 20) as f:
            f.write(b"y" * size)
    assert fs.cat_file(f"{b}/t") == b"y" * size


def test_write_to_a_missing_bucket_fails_without_hanging(s3):
    fs = _new_fs("s3")
    missing = f"quarry-no-such-bucket-{uuid.uuid4().hex[:8]}"
    with pytest.raises(FileNotFoundError, match=missing):
        with fs.open(f"{missing}/k", "wb", block_size=1 << 20) as f:
            for _ in range(8):
                f.write(b"z" * (1 << 20))
    with pytest.raises(FileNotFoundError, match=missing):
        fs.pipe_file(f"{missing}/k", b"small")


def test_put_get_and_copy_stream_files(s3fs_, tmp_path):
    fs, b = s3fs_
    local = tmp_path / "in.bin"
    local.write_bytes(os.urandom(3 << 20))
    fs.put_file(str(local), f"{b}/in.bin")
    fs.cp_file(f"{b}/in.bin", f"{b}/copy/in.bin")
    fs.get_file(f"{b}/copy/in.bin", str(tmp_path / "out" / "out.bin"))
    assert (tmp_path / "out" / "out.bin").read_bytes() == local.read_bytes()
    sink = io.BytesIO()
    fs.get_file(f"{b}/in.bin", sink)
    assert sink.getvalue() == local.read_bytes()
    quarry.put(f"s3://{b}/typed.json", b"{}", content_type="application/json")
    fs.copy(f"{b}/typed.json", f"{b}/typed2.json")
    assert fs.info(f"{b}/typed2.json")["content_type"] == "application/json"
    with pytest.raises(FileNotFoundError):
        fs.cp_file(f"{b}/nothing", f"{b}/x")


def test_mkdir_creates_buckets_only(s3):
    fs = _new_fs("s3")
    name = "quarry-fsspec-mb-" + uuid.uuid4().hex[:8]
    fs.mkdir(f"{name}/a/b")  # create_parents: the bucket
    assert fs.exists(name) and not fs.exists(f"{name}/a")
    with pytest.raises(FileExistsError):
        fs.mkdir(name)
    fs.makedirs(f"{name}/x/y", exist_ok=False)  # prefixes need no creating
    fs.makedirs(name, exist_ok=True)
    assert fs.ls(name) == []


# pandas, pyarrow, Dask -------------------------------------------------------------------------


@pytest.fixture
def registered_s3():
    """quarry.fsspec.register("s3") for one test; fsspec's own s3 entry back afterwards."""
    import importlib
    registry = importlib.import_module("fsspec.registry")
    before = registry._registry.get("s3")
    quarry.fsspec.register("s3")
    yield
    if before is None:
        registry._registry.pop("s3", None)
    else:
        fsspec.register_implementation("s3", before, clobber=True)


def test_pandas_read_csv_through_registered_s3(s3, bucket, registered_s3):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"n": range(1000), "s": [f"row {i}" for i in range(1000)]})
    frame.to_csv(f"s3://{bucket}/f.csv", index=False, storage_options={"endpoint": s3})
    assert fsspec.get_filesystem_class("s3") is quarry.fsspec.QuarryS3FileSystem
    back = pd.read_csv(f"s3://{bucket}/f.csv", storage_options={"endpoint": s3})
    pd.testing.assert_frame_equal(back, frame)
    # Its own protocol, without registration of s3; and a per-scheme dict of options.
    back = pd.read_csv(f"quarry-s3://{bucket}/f.csv", storage_options={"s3": {"endpoint": s3}})
    pd.testing.assert_frame_equal(back, frame)
    # Wrong credentials: pandas asks again with anon=True; the error stays a PermissionError.
    with pytest.raises(PermissionError):
        pd.read_csv(f"s3://{bucket}/f.csv", storage_options={"secret_access_key": "wrong"})


def test_pyarrow_reads_and_writes_parquet_through_the_filesystem(s3fs_):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    ds = pytest.importorskip("pyarrow.dataset")
    from pyarrow.fs import FSSpecHandler, PyFileSystem
    fs, b = s3fs_
    tables = [pa.table({"k": list(range(i * 100, (i + 1) * 100)), "v": [float(i)] * 100})
              for i in range(3)]
    for i, t in enumerate(tables):
        pq.write_table(t, f"{b}/tables/part-{i}.parquet", filesystem=fs)
    quarry.put(f"s3://{b}/tables/_marker/", b"")  # a folder marker is not a file to read
    whole = pa.concat_tables(tables)
    dataset = ds.dataset(f"{b}/tables/", filesystem=fs, format="parquet")
    assert dataset.to_table().sort_by("k").equals(whole)
    arrow_fs = PyFileSystem(FSSpecHandler(fs))
    got = pq.read_table(f"{b}/tables/part-1.parquet", filesystem=arrow_fs, columns=["v"])
    assert got.column("v").to_pylist() == [1.0] * 100
    assert arrow_fs.get_file_info(f"{b}/tables/part-2.parquet").size == fs.size(
        f"{b}/tables/part-2.parquet")


def test_filesystem_and_open_files_travel_to_other_processes(s3, bucket):
    """Dask's way: filesystems and OpenFile objects pickled to workers, which open the files
    themselves (a fresh interpreter here, not a fork)."""
    fs = fsspec.filesystem("quarry-s3", endpoint=s3)
    for i in range(3):
        fs.pipe(f"{bucket}/csv/{i}.csv", f"a,b\n{i},{i * i}\n".encode())
    files = fsspec.open_files(f"quarry-s3://{bucket}/csv/*.csv", "rt", endpoint=s3)
    assert len(files) == 3
    payload = pickle.dumps((fs, files))
    script = ("import pickle, sys\n"
              "fs, files = pickle.loads(sys.stdin.buffer.read())\n"
              "print(type(fs).__name__, len(fs.ls(files[0].path.rsplit('/', 1)[0])))\n"
              "for f in files:\n"
              "    with f as text:\n"
              "        print(text.read().splitlines()[1])\n")
    out = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True,
                         check=True, timeout=120).stdout.decode().split()
    assert out == ["QuarryS3FileSystem", "3", "0,0", "1,1", "2,4"]


def test_dask_dataframe_reads_csv(s3, bucket):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    fs = _new_fs("s3")
    for i in range(4):
        fs.pipe(f"{bucket}/d/{i}.csv", "".join(f"{i},{j}\n" for j in range(50)).encode())
    frame = dd.read_csv(f"quarry-s3://{bucket}/d/*.csv", header=None, names=["i", "j"],
                        storage_options={"endpoint": s3}, blocksize=64)
    assert frame.npartitions > 4  # byte ranges of the files, cut at lines
    got = frame.compute(scheduler="threads").sort_values(["i", "j"]).reset_index(drop=True)
    want = pd.DataFrame([(i, j) for i in range(4) for j in range(50)], columns=["i", "j"])
    pd.testing.assert_frame_equal(got, want)


# Bytes moved, counted at the wire -------------------------------------------------------------


def test_random_access_moves_only_the_bytes_it_reads(bucket, counting):
    np = pytest.importorskip("numpy")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    fs = _new_fs("s3", endpoint=counting.endpoint)

    rng = np.random.default_rng(5)
    table = pa.table({f"c{i}": rng.random(1 << 17) for i in range(8)})  # 8 MiB
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=1 << 14, compression="none")
    data = sink.getvalue()
    quarry.put(f"s3://{bucket}/t.parquet", data)
    counting.reset_counts()
    assert pq.ParquetFile(fs.open(f"{bucket}/t.parquet")).metadata.num_rows == 1 << 17
    assert counting.body_bytes <= 128 << 10  # the footer
    counting.reset_counts()
    column = pq.read_table(f"{bucket}/t.parquet", filesystem=fs, columns=["c3"])
    assert column.column("c3").equals(table.column("c3"))
    assert len(data) / 8 <= counting.body_bytes < 0.2 * len(data)  # one column of 8

    big = 48 << 20
    quarry.put(f"s3://{bucket}/big.bin", os.urandom(big))
    counting.reset_counts()
    with fs.open(f"{bucket}/big.bin") as f:
        f.seek(-8, 2)
        assert len(f.read()) == 8
        assert counting.body_bytes == 8  # one GET of the last 8 bytes
        f.seek(1000)
        assert len(f.read(100)) == 100
    assert counting.body_bytes <= 8 + (64 << 10)  # a read after a seek asks for >= 64 KiB
    counting.reset_counts()
    assert len(fs.cat_file(f"{bucket}/big.bin", 5 << 20, (5 << 20) + 12345)) == 12345
    assert counting.body_bytes == 12345
