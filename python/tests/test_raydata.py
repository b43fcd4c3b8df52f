"""quarry.data's Ray Data readers against the real RGW on a local Ray (2 CPUs): CSV chunks with
one schema, text lines across chunk borders, binary files, JSON lines, Parquet by row groups
(bytes counted at the wire by the counting proxy), partition_filter, override_num_blocks, and a
read task's memory."""

import collections
import io
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry

pa = pytest.importorskip("pyarrow")
pytest.importorskip("ray")

import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from fault_proxy import FaultProxy  # noqa: E402

pytestmark = pytest.mark.usefixtures("local_ray")


def _tasks(uri, fmt, n=200, **options):
    from quarry.data import QuarryDatasource
    return QuarryDatasource(uri, fmt, **options).get_read_tasks(n)


def _arrow(ds):
    return pa.concat_tables(ds.iter_batches(batch_format="pyarrow", batch_size=None))


def _block_schemas(ds):
    """The distinct schemas of the dataset's blocks."""
    out = ds.map_batches(lambda t: pa.table({"s": [t.schema.to_string()]}),
                         batch_format="pyarrow", batch_size=None).take_all()
    return {r["s"] for r in out}


def _csv_rows(n, decimal_at):
    lines = [b"id,x,name\n"]
    for i in range(n):
        x = b"%d.5" % i if i == decimal_at else b"%d" % (i % 1000)
        lines.append(b"%d,%s,n%d\n" % (i, x, i % 7))
    return b"".join(lines)


def test_csv_chunks_share_one_schema_and_sum_like_pandas(bucket):
    import pandas as pd
    # 5 chunks of 64 KiB; column x is integer in the first chunks and has a decimal in the
    # fourth, where pyarrow's own inference of that chunk alone would differ from the others.
    data = _csv_rows(24000, decimal_at=17000)
    uri = f"s3://{bucket}/t.csv"
    quarry.put(uri, data)
    chunk = 64 << 10
    assert pcsv.read_csv(io.BytesIO(data[:chunk].rsplit(b"\n", 1)[0])).schema.field(
        "x").type == pa.int64()

    tasks = _tasks(uri, "csv", chunk_size=chunk)
    assert len(tasks) == -(-len(data) // chunk) == 5  # a read task per chunk
    ds = quarry.data.read_csv(uri, chunk_size=chunk)
    assert ds.schema().base_schema.field("x").type == pa.float64()
    assert ds.schema().names == ["id", "x", "name"]
    assert _block_schemas(ds) == {pa.schema([("id", pa.int64()), ("x", pa.float64()),
                                             ("name", pa.string())]).to_string()}
    want = pd.read_csv(io.BytesIO(data))
    assert ds.count() == len(want) == 24000  # no header read as a row, no row lost
    assert ds.sum("x") == pytest.approx(want["x"].sum())
    assert ds.sum("id") == want["id"].sum()
    assert sorted(ds.unique("name")) == sorted(want["name"].unique())

    # A schema given by the caller is the schema; include_paths adds the URI.
    given = pa.schema([("id", pa.int32()), ("x", pa.float32()), ("name", pa.string())])
    ds = quarry.data.read_csv(uri, chunk_size=chunk, schema=given, include_paths=True)
    rows = ds.filter(lambda r: r["id"] == 17000).take_all()
    assert rows == [{"id": 17000, "x": 17000.5, "name": "n4", "path": uri}]
    assert ds.schema().base_schema.field("id").type == pa.int32()


def test_csv_value_the_sample_missed_fails_naming_the_column(bucket):
    # Two chunks of 1.5 MiB; the decimal lies past the 1 MiB the driver samples of each.
    data = _csv_rows(200000, decimal_at=0)
    data = _csv_rows(200000, decimal_at=len(data[:(5 << 20) // 4].split(b"\n")))
    uri = f"s3://{bucket}/late.csv"
    quarry.put(uri, data)
    ds = quarry.data.read_csv(uri, chunk_size=3 << 19)
    with pytest.raises(Exception, match=r"column 'x' holds a value that is not int64.*schema="):
        ds.sum("x")
    fixed = quarry.data.read_csv(uri, chunk_size=3 << 19,
                                 convert_options=pcsv.ConvertOptions(column_types={
                                     "x": pa.float64()}))
    assert fixed.count() == 200000
    assert fixed.schema().base_schema.field("id").type == pa.int64()  # others still inferred


def test_read_text_lines_are_exact_across_chunk_borders(bucket):
    rng = random.Random(7)
    lines = []
    for i in range(3000):
        kind = rng.random()
        if kind < 0.05:
            lines.append("")
        elif kind < 0.08:
            lines.append("   ")
        else:
            lines.append(f"{i}:" + "é" * rng.randrange(0, 40) + "x" * rng.randrange(0, 300))
    ends = ["\r\n" if rng.random() < 0.2 else "\n" for _ in lines]
    body = "".join(s + e for s, e in zip(lines, ends))
    quarry.put(f"s3://{bucket}/a.txt", body.encode() + b"last line, no newline")
    quarry.put(f"s3://{bucket}/b.txt", b"one\ntwo\n")
    want = lines + ["last line, no newline", "one", "two"]
    assert len(_tasks(f"s3://{bucket}/", "text", chunk_size=4096)) > 50

    ds = quarry.data.read_text(f"s3://{bucket}/", chunk_size=4096, drop_empty_lines=False)
    assert collections.Counter(r["text"] for r in ds.take_all()) == collections.Counter(want)
    ds = quarry.data.read_text(f"s3://{bucket}/", chunk_size=4096, include_paths=True)
    rows = ds.take_all()
    assert collections.Counter(r["text"] for r in rows) == collections.Counter(
        s for s in want if s.strip())
    assert {r["path"] for r in rows if r["text"] in ("one", "two")} == {f"s3://{bucket}/b.txt"}


def test_read_binary_files_with_paths_and_partition_filter(bucket):
    from concurrent.futures import ThreadPoolExecutor
    blobs = {f"s3://{bucket}/bin/{i:03d}": os.urandom(i * 97) for i in range(60)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: quarry.put(*kv), blobs.items()))
    ds = quarry.data.read_binary_files(f"s3://{bucket}/bin/", include_paths=True)
    got = {r["path"]: r["bytes"] for r in ds.take_all()}
    assert got == blobs
    assert ds.schema().names == ["bytes", "path"]

    even = quarry.data.read_binary_files(f"s3://{bucket}/bin/", include_paths=True,
                                         partition_filter=lambda uri: int(uri[-3:]) % 2 == 0)
    assert {r["path"] for r in even.take_all()} == {u for u in blobs if int(u[-3:]) % 2 == 0}
    assert quarry.data.read_binary_files(f"s3://{bucket}/bin/").columns() == ["bytes"]
    # Objects grouped into tasks by bytes: at most override_num_blocks of them, all read.
    tasks = _tasks(f"s3://{bucket}/bin/", "binary", n=4)
    assert len(tasks) == 4
    sizes = [t.metadata.size_bytes for t in tasks]
    assert sum(sizes) == sum(map(len, blobs.values())) and max(sizes) < 0.4 * sum(sizes)
    ds = quarry.data.read_binary_files(f"s3://{bucket}/bin/", override_num_blocks=4)
    assert ds.count() == 60


def test_read_json_lines(bucket):
    rows = [{"id": i, "v": (i + 0.5) if i == 4000 else i, "tag": f"t{i % 3}",
             "nested": {"a": i}} for i in range(6000)]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    uri = f"s3://{bucket}/r.jsonl"
    quarry.put(uri, data)
    assert len(_tasks(uri, "json", chunk_size=64 << 10)) > 4
    ds = quarry.data.read_json(uri, chunk_size=64 << 10)
    assert ds.schema().base_schema.field("v").type == pa.float64()
    assert len(_block_schemas(ds)) == 1
    assert ds.count() == 6000
    assert ds.sum("v") == pytest.approx(sum(r["v"] for r in rows))
    got = sorted(ds.take_all(), key=lambda r: r["id"])
    assert got[123] == {"id": 123, "v": 123.0, "tag": "t0", "nested": {"a": 123}}


def _parquet(rows, columns=6, groups=8):
    import numpy as np
    rng = np.random.default_rng(3)
    table = pa.table({"id": np.arange(rows), **{f"c{i}": rng.random(rows)
                                                 for i in range(1, columns)}})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=rows // groups, compression="none")
    return table, sink.getvalue()


def test_read_parquet_by_row_groups_columns_and_filter(bucket):
    table, data = _parquet(80000)
    uri = f"s3://{bucket}/p/t.parquet"
    quarry.put(uri, data)
    quarry.put(f"s3://{bucket}/p/u.parquet", data)
    prefix = f"s3://{bucket}/p/"
    assert len(_tasks(prefix, "parquet")) == 16  # a read task per row group
    assert len(_tasks(prefix, "parquet", n=3)) == 3
    assert [t.metadata.num_rows for t in _tasks(prefix, "parquet", n=2)] == [80000, 80000]

    ds = quarry.data.read_parquet(uri, columns=["c2", "id"])
    assert ds.schema().names == ["c2", "id"]
    got = _arrow(ds).sort_by("id")
    assert got.column("c2").equals(table.column("c2"))

    # The filter skips row groups on the driver (by their statistics) and filters rows.
    expr = pc.field("id") >= 65000
    assert len(_tasks(uri, "parquet", columns=["c1"], filter=expr)) == 2
    ds = quarry.data.read_parquet(uri, columns=["c1"], filter=expr, include_paths=True)
    got = _arrow(ds)
    assert got.num_rows == 15000 and got.column_names == ["c1", "path"]
    assert pc.sum(got.column("c1")).as_py() == pytest.approx(
        pc.sum(table.column("c1").slice(65000)).as_py())
    assert set(got.column("path").to_pylist()) == {uri}


def _parquet_of_every_kind(rows, seed, compression="snappy", row_group_size=None,
                           data_page_version="1.0"):
    """(table, its bytes): plain, dictionary-encoded, nullable, nested and list columns."""
    import numpy as np
    rng = np.random.default_rng(seed)
    ints = rng.integers(0, 1 << 40, rows)
    table = pa.table({
        "id": np.arange(rows),
        "x": pa.array(rng.random(rows), mask=rng.random(rows) < 0.1),
        "tag": pa.array([f"t{v % 13}" for v in ints]),  # few distinct: a dictionary page
        "text": pa.array([f"row {i} {v}" for i, v in enumerate(ints)]),
        "point": pa.StructArray.from_arrays([pa.array(ints), pa.array(ints % 7 == 0)],
                                            names=["v", "seven"]),
        "list": pa.array([list(range(int(v % 5))) for v in ints], pa.list_(pa.int64())),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size or max(1, rows // 5),
                   compression=compression, data_page_version=data_page_version)
    return table, sink.getvalue()


def test_parquet_of_every_kind_reads_as_pyarrow_reads_it(bucket):
    # Column chunks land at their own offsets in a sparse image of the task's files, which
    # pyarrow reads as memory: dictionary pages, nested and list columns, nulls, compression,
    # and many files of one read task (one image) all come out as pyarrow reads the file.
    tables = {}
    for i, (compression, version) in enumerate([("snappy", "1.0"), ("zstd", "2.0"),
                                                ("none", "1.0"), ("gzip", "2.0")]):
        table, data = _parquet_of_every_kind(3000 + 1000 * i, seed=i, compression=compression,
                                             data_page_version=version)
        uri = f"s3://{bucket}/kinds/f{i}.parquet"
        quarry.put(uri, data)
        tables[uri] = table
    prefix = f"s3://{bucket}/kinds/"
    for columns in (None, ["point", "tag"], ["list", "id", "text"]):
        for blocks in (1, 7):
            ds = quarry.data.read_parquet(prefix, columns=columns, include_paths=True,
                                          override_num_blocks=blocks)
            got = _arrow(ds)
            for uri, table in tables.items():
                mine = got.filter(pc.equal(got.column("path"), uri)).drop_columns(["path"])
                want = table.select(columns) if columns else table
                assert mine.equals(want), (uri, columns, blocks)


def test_parquet_whose_footer_is_larger_than_the_driver_keeps(bucket):
    # 3,000 columns x 4 row groups: a footer of about 2 MB, more than the 1 MiB of the file's
    # end the driver keeps for the read tasks; they fetch the rest of it.
    import numpy as np
    table = pa.table({f"column_with_a_longish_name_{i}": np.arange(40) + i for i in range(3000)})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=10)
    data = sink.getvalue()
    assert int.from_bytes(data[-8:-4], "little") > 1 << 20
    uri = f"s3://{bucket}/wide-footer.parquet"
    quarry.put(uri, data)
    columns = ["column_with_a_longish_name_7", "column_with_a_longish_name_2999"]
    got = _arrow(quarry.data.read_parquet(uri, columns=columns))
    assert got.sort_by(columns[0]).equals(table.select(columns))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 4000), row_group_size=st.integers(1, 1500),
       compression=st.sampled_from(["none", "snappy", "zstd"]),
       columns=st.lists(st.sampled_from(["id", "x", "tag", "text", "point", "list"]),
                        min_size=1, max_size=6, unique=True),
       budget=st.sampled_from([1, 64 << 10, 32 << 20]))
def test_parquet_pieces_read_as_pyarrow_reads_them(bucket, rows, row_group_size, compression,
                                                  columns, budget):
    # The read task's body, without Ray: whatever the row groups, columns, and runs of row
    # groups fetched at once (down to one a run), the blocks make the file's table.
    from quarry import _datasource
    from quarry.data import QuarryDatasource
    table, data = _parquet_of_every_kind(rows, seed=rows, compression=compression,
                                         row_group_size=row_group_size)
    uri = f"s3://{bucket}/prop.parquet"
    quarry.put(uri, data)
    source = QuarryDatasource(uri, "parquet")
    fmt = source._format.narrowed(columns, None)
    saved = _datasource._PREFETCH_BYTES
    _datasource._PREFETCH_BYTES = budget
    try:
        blocks = [t for _, t in fmt.read(source._pieces)]
    finally:
        _datasource._PREFETCH_BYTES = saved
    assert len(blocks) == pq.ParquetFile(io.BytesIO(data)).num_row_groups
    assert pa.concat_tables(blocks).equals(table.select(columns))


def test_parquet_block_sizes_are_the_decoded_bytes_of_the_columns_read(bucket):
    # What Ray Data plans memory by (the dataset's estimate, each read task's size_bytes): the
    # row groups' decoded bytes in the columns read, nested and list columns among them, and
    # after a projection Ray Data pushes down later only those of the columns it keeps.
    from quarry.data import QuarryDatasource
    table, data = _parquet_of_every_kind(4000, seed=5)
    uri = f"s3://{bucket}/sizes.parquet"
    quarry.put(uri, data)
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata

    def decoded(names):
        groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
        return sum(g.column(c).total_uncompressed_size for g in groups
                   for c in range(g.num_columns)
                   if g.column(c).path_in_schema.split(".")[0] in names)

    source = QuarryDatasource(uri, "parquet")
    everything = decoded(set(table.column_names))
    assert source.estimate_inmemory_data_size() == everything
    assert sum(t.metadata.size_bytes for t in source.get_read_tasks(3)) == everything
    projected = source.apply_projection({"point": "point", "id": "id"})
    kept = decoded({"point", "id"})
    assert 0 < kept < everything
    assert projected.estimate_inmemory_data_size() == kept
    assert sum(t.metadata.size_bytes for t in projected.get_read_tasks(3)) == kept
    chosen = QuarryDatasource(uri, "parquet", columns=["list", "tag"])
    assert chosen.estimate_inmemory_data_size() == decoded({"list", "tag"})


def test_parquet_reads_through_file_objects_where_the_image_is_refused(bucket, monkeypatch):
    # Where the system refuses the image's mapping (strict overcommit accounting counts its
    # whole size), the task reads the same blocks through file objects.
    import errno
    import mmap

    from quarry.data import QuarryDatasource
    table, data = _parquet_of_every_kind(5000, seed=11)
    uri = f"s3://{bucket}/refused.parquet"
    quarry.put(uri, data)
    source = QuarryDatasource(uri, "parquet")

    def refused(*args, **kwargs):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(mmap, "mmap", refused)
    fmt = source._format.narrowed(["tag", "point"], None)
    blocks = [t for _, t in fmt.read(source._pieces)]
    assert len(blocks) == 5
    assert pa.concat_tables(blocks).equals(table.select(["tag", "point"]))


def test_read_ranges_into_places_each_range_and_refuses_what_does_not_fit(bucket):
    from quarry import _quarry
    data = bytes(range(256)) * 64
    uri = f"s3://{bucket}/ranges.bin"
    quarry.put(uri, data)
    (p,) = list(quarry.plan(uri))
    target = bytearray(len(data) + 100)
    _quarry.read_ranges_into([p._native] * 3, [(0, 10), (5000, 9000), (16000, 16384)],
                             [100, 5100, 16100], target, p._storage_options)
    assert target[100:110] == data[:10]
    assert target[5100:9100] == data[5000:9000]
    assert target[16100:16484] == data[16000:]
    assert target[:100] == bytes(100) and target[110:5100] == bytes(4990)
    with pytest.raises(quarry.InvalidArgument, match="do not fit the target buffer"):
        _quarry.read_ranges_into([p._native], [(0, 10)], [len(target) - 5], target,
                                 p._storage_options)
    with pytest.raises(quarry.InvalidArgument, match="one place per range"):
        _quarry.read_ranges_into([p._native], [(0, 10)], [], target, p._storage_options)
    with pytest.raises(quarry.InvalidArgument, match=r"read_ranges_into: \[10, 5\) is not"):
        _quarry.read_ranges_into([p._native], [(10, 5)], [0], target, p._storage_options)
    with pytest.raises(BufferError):
        _quarry.read_ranges_into([p._native], [(0, 10)], [0], bytes(20), p._storage_options)


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_sparse_image_costs_the_memory_of_what_is_written_to_it():
    # An image of 64 GiB of objects (more than this machine's memory) with 8 MiB written in
    # it: only those pages are backed; the rest reads as zeros.
    from quarry._datasource import _Image
    files = [collections.namedtuple("P", "uri size")(f"s3://b/o{i}", 16 << 30) for i in range(4)]
    before = _resident_bytes()
    image = _Image(files)
    chunk = os.urandom(1 << 20)
    for i in range(8):
        image.put(files[i % 4].uri, (i + 1) << 30, chunk)
    grown = _resident_bytes() - before
    assert grown < 24 << 20, grown
    view = image.file("s3://b/o1")
    assert view.size == 16 << 30
    assert view[(2 << 30):(2 << 30) + 16].to_pybytes() == chunk[:16]
    assert view[5:21].to_pybytes() == bytes(16)


def _wide_parquet_behind_a_proxy(bucket, name):
    """(table, its bytes, the URI they were written to, a counting proxy in front of RGW):
    8 columns x 8 row groups, 8 MiB."""
    table, data = _parquet(1 << 17, columns=8)
    uri = f"s3://{bucket}/{name}"
    quarry.put(uri, data)
    return table, data, uri, FaultProxy(os.environ["AWS_ENDPOINT_URL"])


def test_parquet_one_column_moves_a_fraction_of_the_file(bucket, s3):
    table, data, uri, proxy = _wide_parquet_behind_a_proxy(bucket, "wide.parquet")
    try:
        opts = {"endpoint": proxy.endpoint}
        ds = quarry.data.read_parquet(uri, columns=["c3"], storage_options=opts)
        assert ds.sum("c3") == pytest.approx(pc.sum(table.column("c3")).as_py())
        moved = proxy.body_bytes
        # One column of 8 (and the footer, once, on the driver).
        assert moved < 0.2 * len(data), (moved, len(data))
        footer_reads = [g for g in proxy.gets if g[1] and g[1].endswith(f"-{len(data) - 1}")]
        assert len(footer_reads) == 1
        proxy.reset_counts()
        assert _arrow(quarry.data.read_parquet(uri, storage_options=opts)).num_rows == 1 << 17
        assert 0.9 * len(data) < proxy.body_bytes < 1.1 * len(data)
    finally:
        proxy.close()


def test_select_columns_and_filter_expr_are_pushed_into_the_parquet_read(bucket, s3):
    # Ray Data's optimizer hands a later select_columns and filter(expr=...) to the datasource:
    # the bytes that move are those of the selected column's chunks and of the row groups the
    # predicate's statistics keep, as if columns= and filter= had been given to read_parquet.
    from ray.data.expressions import col
    table, data, uri, proxy = _wide_parquet_behind_a_proxy(bucket, "pushed.parquet")
    try:
        opts = {"endpoint": proxy.endpoint}
        ds = quarry.data.read_parquet(uri, storage_options=opts).select_columns(["c3", "id"])
        got = _arrow(ds)
        assert got.column_names == ["c3", "id"]
        got = got.sort_by("id")
        assert got.column("c3").equals(table.column("c3"))
        # Two columns of 8, and the footer once, on the driver.
        assert proxy.body_bytes < 0.3 * len(data), (proxy.body_bytes, len(data))

        proxy.reset_counts()
        last = (1 << 17) - (1 << 14)  # the last row group's first id
        ds = (quarry.data.read_parquet(uri, storage_options=opts)
              .filter(expr=col("id") >= last).select_columns(["c5"]))
        got = _arrow(ds)
        assert got.column_names == ["c5"] and got.num_rows == 1 << 14
        assert pc.sum(got.column("c5")).as_py() == pytest.approx(
            pc.sum(table.column("c5").slice(last)).as_py())
        # One column (and the filter's) of one row group of 8: 2 x 1/64 of the file, and the
        # footer; the other row groups are skipped by their statistics.
        assert proxy.body_bytes < 0.1 * len(data), (proxy.body_bytes, len(data))
    finally:
        proxy.close()


def _csv_of_chunks(bucket, name, chunk):
    """(uri, its bytes, how many chunks of `chunk` bytes it makes): 30,000 rows, ids 0..29,999."""
    data = _csv_rows(30000, decimal_at=-1)
    uri = f"s3://{bucket}/{name}"
    quarry.put(uri, data)
    return uri, data, -(-len(data) // chunk)


def test_override_num_blocks_groups_chunks_by_bytes(bucket):
    chunk = 32 << 10
    uri, data, n_chunks = _csv_of_chunks(bucket, "n.csv", chunk)
    tasks = _tasks(uri, "csv", n=3, chunk_size=chunk)
    assert len(tasks) == 3 < n_chunks
    sizes = [t.metadata.size_bytes for t in tasks]
    assert sum(sizes) == len(data) and max(sizes) - min(sizes) <= chunk
    ds = quarry.data.read_csv(uri, chunk_size=chunk, override_num_blocks=3)
    assert ds.count() == 30000 and ds.sum("id") == sum(range(30000))


def test_blocks_are_the_pieces_ray_data_does_not_cut_them(bucket):
    # With no override_num_blocks, the readers choose the read tasks (a task per 256 MiB, one per
    # CPU at least) and Ray Data keeps the blocks they make: a chunk or more a block. Ray Data's
    # own default wants 200 blocks of at least target_min_block_size, and cuts every task's
    # output to reach them (its SplitBlocks), which makes the next stage run as many tasks; the
    # minimum is made small here so that this file is big enough for that.
    import ray.data
    chunk = 64 << 10
    uri, _, n_chunks = _csv_of_chunks(bucket, "blocks.csv", chunk)
    ctx = ray.data.DataContext.get_current()
    saved = ctx.target_min_block_size
    ctx.target_min_block_size = 1 << 10
    try:
        ds = quarry.data.read_csv(uri, chunk_size=chunk).materialize()
        assert ds.num_blocks() <= n_chunks < 20
        assert ds.sum("id") == sum(range(30000))
    finally:
        ctx.target_min_block_size = saved


def test_read_binary_files_fails_loudly_when_an_object_changed_after_listing(bucket):
    # Objects are read as the listing saw them (ETag pinned, size known): one replaced between
    # the listing and the read fails the read instead of giving another version's bytes.
    for i in range(6):
        quarry.put(f"s3://{bucket}/chg/{i}", b"first version %d" % i)
    ds = quarry.data.read_binary_files(f"s3://{bucket}/chg/")
    quarry.put(f"s3://{bucket}/chg/3", b"second")
    with pytest.raises(Exception, match=r"chg/3.*(changed|ETag|precondition)"):
        ds.take_all()


def test_compat_read_still_gives_its_rows(bucket):
    quarry.put(f"s3://{bucket}/c/1.csv", b"k,v\n1,2\n3,4\n")
    rows = quarry.data.read(f"s3://{bucket}/c/", format="lines", chunk_size=5).take_all()
    assert sorted(r["line"] for r in rows) == [b"1,2\n", b"3,4\n", b"k,v\n"]
    assert {r["uri"] for r in rows} == {f"s3://{bucket}/c/1.csv"}
    (blob,) = quarry.data.read(f"s3://{bucket}/c/", format="binary").take_all()
    assert blob == {"bytes": b"k,v\n1,2\n3,4\n", "uri": f"s3://{bucket}/c/1.csv"}


def test_a_read_task_holds_a_chunk_not_its_whole_share(bucket, tmp_path):
    cloudpickle = pytest.importorskip("ray.cloudpickle")
    line = b"%08d," + b"y" * 90 + b"\n"
    data = b"id,pad\n" + b"".join(line % i for i in range(320000))  # 32 MiB
    uri = f"s3://{bucket}/m.csv"
    quarry.put(uri, data)
    (task,) = _tasks(uri, "csv", n=1, chunk_size=1 << 20)  # one task, 32 chunks
    path = tmp_path / "task.pickle"
    path.write_bytes(cloudpickle.dumps(task))
    script = textwrap.dedent(f"""
        import pickle, pyarrow, pyarrow.csv, numpy, quarry, quarry._datasource
        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        task = pickle.load(open({str(path)!r}, "rb"))
        blocks = iter(task())
        first = next(blocks)
        before = status("VmRSS:")
        rows = first.num_rows + sum(b.num_rows for b in blocks)
        print(rows, status("VmHWM:") - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    rows, grown = map(int, out.stdout.split())
    assert rows == 320000
    assert grown < 12 << 20, grown  # a few chunks' worth, not the task's 32 MiB
