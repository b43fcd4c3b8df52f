"""Data streams move the bytes their readers need, counted at the wire by a counting proxy in
front of the real RGW (fault_proxy.FaultProxy without faults): random-access readers (Parquet,
zip, TIFF) move about what they read, a seek costs at most one ranged GET of what is then read,
and reads in order get long requests. Also the file protocol of DataStream and quarry.open's
arguments."""

import io
import os
import zipfile

import pytest

import quarry
from fault_proxy import FaultProxy


@pytest.fixture
def counting(s3):
    proxy = FaultProxy(os.environ["AWS_ENDPOINT_URL"])
    yield proxy
    proxy.close()


def _through(proxy):
    return {"endpoint": proxy.endpoint}


def _object_gets(proxy, uri):
    """The GETs of the object's bytes (not listings) that went through the proxy."""
    path = "/" + uri.split("://", 1)[1]
    return [g for g in proxy.gets if g[0] == path]


def _parquet(rows):
    np = pytest.importorskip("numpy")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(11)
    table = pa.table({f"c{i}": rng.random(rows) for i in range(8)})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=rows // 8, compression="none")
    return table, sink.getvalue()


def test_parquet_moves_about_the_bytes_it_reads(bucket, counting):
    pq = pytest.importorskip("pyarrow.parquet")
    table, data = _parquet(1 << 17)  # 8 columns x 8 row groups, 8 MiB
    uri = f"s3://{bucket}/t.parquet"
    quarry.put(uri, data)
    opts = _through(counting)

    counting.reset_counts()
    assert pq.ParquetFile(quarry.open(uri, storage_options=opts)).metadata.num_rows == 1 << 17
    assert counting.body_bytes <= 128 << 10  # the footer, not the file (was 2.0x)

    counting.reset_counts()
    column = pq.read_table(quarry.open(uri, storage_options=opts), columns=["c3"])
    assert column.column("c3").equals(table.column("c3"))
    assert counting.body_bytes < 0.3 * len(data)  # one column of 8 (was 4x)

    counting.reset_counts()
    assert pq.read_table(quarry.open(uri, storage_options=opts)).equals(table)
    assert counting.body_bytes < 1.1 * len(data)

    # The same through a plan's partition (a whole object, decompress="auto").
    (obj,) = quarry.plan(uri, storage_options={"s3": opts})
    counting.reset_counts()
    column = pq.read_table(obj.data_stream, columns=["c5"])
    assert column.column("c5").equals(table.column("c5"))
    assert counting.body_bytes < 0.3 * len(data)


def test_a_seek_costs_one_ranged_get_of_what_is_read(bucket, counting):
    data = os.urandom(24 << 20)
    uri = f"s3://{bucket}/big.bin"
    quarry.put(uri, data)
    with quarry.open(uri, storage_options=_through(counting)) as f:
        assert counting.gets == []  # opening reads nothing
        counting.reset_counts()
        assert f.seek(-8, io.SEEK_END) == len(data) - 8
        assert counting.gets == []  # the size is known: SEEK_END reads nothing
        assert f.read() == data[-8:]
        assert counting.body_bytes == 8 and len(counting.gets) == 1
        counting.reset_counts()
        f.seek(1000)  # backward: a ranged read, not the object again
        assert f.read(100) == data[1000:1100]
        assert len(counting.gets) == 1 and counting.body_bytes <= 64 << 10
        counting.reset_counts()
        f.seek(5 << 20, io.SEEK_SET)
        assert f.read(3 << 20) == data[5 << 20:8 << 20]
        assert len(counting.gets) == 1 and counting.body_bytes == 3 << 20
        assert f.tell() == 8 << 20


def test_reads_in_order_get_long_requests_and_no_more_than_the_data(bucket, counting):
    data = os.urandom(20 << 20)
    uri = f"s3://{bucket}/seq.bin"
    quarry.put(uri, data)
    counting.reset_counts()
    with quarry.open(uri, storage_options=_through(counting)) as f:
        got = bytearray()
        while b := f.read(256 << 10):
            got += b
    assert got == data
    # Requests double from the first read's size: a handful, not one per read (80 reads).
    assert len(counting.gets) <= 8
    assert counting.body_bytes == len(data)
    # Reading everything at once goes to long requests from the start.
    counting.reset_counts()
    (obj,) = quarry.plan(uri, decompress=False, storage_options={"s3": _through(counting)})
    counting.reset_counts()
    assert obj.read() == data
    assert len(_object_gets(counting, uri)) == 1 and counting.body_bytes == len(data)


def test_zip_member_and_tiff_page_move_about_their_bytes(bucket, counting):
    members = {f"m{i}.bin": os.urandom(256 << 10) for i in range(16)}
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    uri = f"s3://{bucket}/a.zip"
    quarry.put(uri, zbuf.getvalue())
    counting.reset_counts()
    with zipfile.ZipFile(quarry.open(uri, storage_options=_through(counting))) as z:
        assert z.read("m9.bin") == members["m9.bin"]
    # The member (1/16), its header and the central directory (was 3x the archive).
    assert counting.body_bytes < 0.1 * len(zbuf.getvalue())

    np = pytest.importorskip("numpy")
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(5)
    frames = [image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8))
              for _ in range(6)]
    tbuf = io.BytesIO()
    frames[0].save(tbuf, format="TIFF", save_all=True, append_images=frames[1:])
    uri = f"s3://{bucket}/pages.tif"
    quarry.put(uri, tbuf.getvalue())
    counting.reset_counts()
    with image.open(quarry.open(uri, storage_options=_through(counting))) as im:
        im.seek(4)
        im.load()
        assert im.tobytes() == frames[4].tobytes()
    # One page of 6, the IFDs on the way to it (a 64 KiB read each), and the strips' reads of
    # 64 KiB that PIL starts before each strip.
    assert counting.body_bytes < 0.4 * len(tbuf.getvalue())


def test_open_checks_start_and_stop_before_any_request(bucket):
    missing = f"s3://{bucket}/no-such-key"
    for kwargs, name in (({"start": -5}, "start"), ({"stop": -1}, "stop"),
                         ({"start": 1.5}, "start"), ({"stop": "10"}, "stop"),
                         ({"start": True}, "start")):
        with pytest.raises(quarry.InvalidArgument, match=f"{name}=") as e:
            quarry.open(missing, **kwargs)
        assert "give" in str(e.value)
    with pytest.raises(quarry.InvalidArgument, match="start=10 is past stop=5"):
        quarry.open(missing, start=10, stop=5)
    uri = f"s3://{bucket}/window.txt"
    quarry.put(uri, b"0123456789")
    with quarry.open(uri, start=3, stop=7) as f:
        assert f.seek(0, io.SEEK_END) == 4
        f.seek(1)
        assert f.read() == b"456"
    assert quarry.open(uri, start=8, stop=100).read() == b"89"  # stop cut at the end
    assert quarry.open(uri, start=50).read() == b""
    assert quarry.open(uri, start=4, stop=4).read() == b""


def test_data_stream_is_a_read_only_file_named_by_its_uri(bucket):
    uri = f"s3://{bucket}/file.txt"
    quarry.put(uri, b"abc\n" * 1000)
    f = quarry.open(uri)
    assert f.name == uri
    assert f.readable() and f.seekable() and not f.writable()
    with pytest.raises(io.UnsupportedOperation, match="reading only"):
        f.write(b"x")
    assert io.BufferedReader(quarry.open(uri)).read(5) == b"abc\na"
    f.close()
    for call in (f.seekable, f.readable, f.writable, f.read, f.tell):
        with pytest.raises(ValueError):
            call()
    (obj,) = quarry.plan(uri)
    assert obj.data_stream.name == uri


def test_read_sizes_and_long_lines(bucket):
    long_line = b"L" * (300 << 10) + b"\n"
    data = b"".join(b"%d,row\n" % i for i in range(200000)) + long_line + b"tail"
    uri = f"s3://{bucket}/lines.csv"
    quarry.put(uri, data)
    with quarry.open(uri) as f:
        assert f.read(0) == b""
        assert f.read(1 << 40) == data  # more than there is: the rest
        assert f.read(10) == b""
        f.seek(len(data) - len(long_line) - 4)
        assert f.readline() == long_line
        assert f.readline() == b"tail"
    # Line mode: the data's length is unknown until its end; read() still gets it exactly.
    parts = list(quarry.plan(uri, chunk_size=1 << 20, newline=b"\n"))
    assert len(parts) > 1
    assert b"".join(p.data_stream.read() for p in parts) == data
    fresh = quarry.plan(uri, chunk_size=1 << 20, newline=b"\n")
    assert b"".join(p.data_stream.read(1 << 40) for p in fresh) == data
    last = parts[-1].data_stream
    assert last.seek(0, io.SEEK_END) == len(parts[-1].read())  # found by reading to the end
