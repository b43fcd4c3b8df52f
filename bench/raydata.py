"""Quarry's Ray Data readers against Ray Data's own, on the same RGW objects, in one run (Ray
with 2 CPUs):

  (a) a CSV: count() and the sum of a column (quarry.data.read_csv, ray.data.read_csv);
  (b) a Parquet file of 8 columns: one column read and summed (read_parquet(columns=[...]));
  (c) N small objects: their total bytes (read_binary_files).

Daft runs the same on the same Ray (daft.set_runner_ray; read_csv, read_parquet + select,
from_glob_path + download).

Sums are taken per block in the read tasks (map_batches) and added on the driver, so that the
figures are the reads', not those of Ray Data's aggregation.

Ray Data reaches RGW through pyarrow's S3 filesystem (endpoint_override, http). Each figure is
the best of --rounds rounds, the two readers alternating so that a drift of the machine's load
favours neither.

    python bench/raydata.py [--csv-mib 2048] [--parquet-mib 2048] [--files 5000] [--file-kib 32]
    python bench/raydata.py --smoke     # 8 MiB, 8 MiB, 100 files, one round

Needs scripts/test-servers start and the environment it prints.
"""

import argparse
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor

import quarry

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:7480")
KEY = os.environ.get("AWS_ACCESS_KEY_ID", "")
SECRET = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
BUCKET = "quarry-bench-raydata"


def _exists(uri, size=None):
    try:
        info = quarry.stat(uri)
    except quarry.NotFound:
        return False
    return size is None or info.size == size


def prepare_csv(mib):
    uri = f"s3://{BUCKET}/csv-{mib}m.csv"
    if _exists(uri):
        return uri
    import numpy as np
    rng = np.random.default_rng(5)
    rows_per_piece = 1 << 16
    pieces, total, i = [b"id,a,b,name\n"], 0, 0
    while total < mib << 20:
        ids = np.arange(i, i + rows_per_piece)
        a = rng.integers(0, 1 << 20, rows_per_piece)
        b = rng.random(rows_per_piece)
        piece = "".join(f"{x},{y},{z:.6f},name{x % 97}\n" for x, y, z in zip(ids, a, b)).encode()
        pieces.append(piece)
        total += len(piece)
        i += rows_per_piece
    quarry.put(uri, b"".join(pieces))
    return uri


def prepare_parquet(mib):
    uri = f"s3://{BUCKET}/pq-{mib}m.parquet"
    if _exists(uri):
        return uri
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rows = (mib << 20) // 64  # 8 float64 columns
    rng = np.random.default_rng(9)
    table = pa.table({f"c{i}": rng.random(rows) for i in range(8)})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=max(1, rows // 16), compression="none")
    quarry.put(uri, sink.getvalue())
    return uri


def prepare_files(count, kib):
    prefix = f"s3://{BUCKET}/files-{count}x{kib}k/"
    if sum(1 for _ in quarry.ls(prefix)) == count:
        return prefix
    payload = os.urandom(kib << 10)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: quarry.put(f"{prefix}f-{i:06d}", payload[i % 997:] +
                                           payload[:i % 997]), range(count)))
    return prefix


def _fs():
    import pyarrow.fs
    return pyarrow.fs.S3FileSystem(endpoint_override=ENDPOINT, access_key=KEY,
                                   secret_key=SECRET, scheme="http", region="us-east-1")


def _path(uri):
    return uri.split("://", 1)[1]


def _daft_io():
    import daft
    return daft.io.IOConfig(s3=daft.io.S3Config(
        endpoint_url=ENDPOINT, key_id=KEY, access_key=SECRET, region_name="us-east-1",
        force_virtual_addressing=False, use_ssl=False))


def _daft_sum(df, column):
    return df.sum(column).to_pydict()[column][0]


def _daft_bytes(prefix):
    import daft
    from daft import col
    io_config = _daft_io()
    df = daft.from_glob_path(prefix + "*", io_config=io_config)
    df = df.with_column("b", col("path").download(io_config=io_config))
    return _daft_sum(df.select(col("b").length().alias("n")), "n")


def workloads(csv_uri, pq_uri, files_prefix):
    """(name, the size's kind, {reader: a function giving the figure's value})."""
    import daft
    import ray.data

    import quarry.data as qd
    return [
        ("(a) CSV count()", "csv", {
            "quarry": lambda: qd.read_csv(csv_uri).count(),
            "ray": lambda: ray.data.read_csv(_path(csv_uri), filesystem=_fs()).count(),
            "daft": lambda: daft.read_csv(csv_uri, io_config=_daft_io()).count_rows()}),
        ("(a) CSV sum of a column", "csv", {
            "quarry": lambda: _sum(qd.read_csv(csv_uri), "b"),
            "ray": lambda: _sum(ray.data.read_csv(_path(csv_uri), filesystem=_fs()), "b"),
            "daft": lambda: _daft_sum(daft.read_csv(csv_uri, io_config=_daft_io()), "b")}),
        ("(b) Parquet, one column of 8, sum", "parquet", {
            "quarry": lambda: _sum(qd.read_parquet(pq_uri).select_columns(["c3"]), "c3"),
            "ray": lambda: _sum(ray.data.read_parquet(_path(pq_uri), filesystem=_fs())
                                .select_columns(["c3"]), "c3"),
            "daft": lambda: _daft_sum(daft.read_parquet(pq_uri, io_config=_daft_io())
                                      .select("c3"), "c3")}),
        ("(c) small objects, bytes", "files", {
            "quarry": lambda: _sum(qd.read_binary_files(files_prefix), "bytes"),
            "ray": lambda: _sum(ray.data.read_binary_files(_path(files_prefix),
                                                           filesystem=_fs()), "bytes"),
            "daft": lambda: _daft_bytes(files_prefix)}),
    ]


def _sum(ds, column):
    """The column's sum (binary columns: their total length), a partial sum per block in the
    read tasks and the rest on the driver, so the figure is the read's, not a shuffle's."""
    def partial(table):
        import pyarrow as pa
        import pyarrow.compute as pc
        values = table.column(column)
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            values = pc.binary_length(values)
        return pa.table({"s": [pc.sum(values).as_py() or 0]})

    return sum(r["s"] for r in ds.map_batches(partial, batch_format="pyarrow",
                                              batch_size=None).take_all())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv-mib", type=int, default=2048)
    parser.add_argument("--parquet-mib", type=int, default=2048)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--file-kib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--clean", action="store_true", help="delete the objects at the end")
    parser.add_argument("--readers", default="quarry,ray,daft",
                        help="of quarry, ray (Ray Data), daft (Daft on Ray)")
    parser.add_argument("--workloads", default="csv,parquet,files",
                        help="of csv, parquet, files (the others are neither written nor run)")
    args = parser.parse_args()
    if args.smoke:
        args.csv_mib, args.parquet_mib, args.files, args.rounds = 8, 8, 100, 1
    quarry.create_bucket(f"s3://{BUCKET}") if not _bucket_exists() else None
    chosen = args.workloads.split(",")
    csv_uri = prepare_csv(args.csv_mib) if "csv" in chosen else None
    pq_uri = prepare_parquet(args.parquet_mib) if "parquet" in chosen else None
    files_prefix = prepare_files(args.files, args.file_kib) if "files" in chosen else None
    sizes = {"csv": csv_uri and quarry.stat(csv_uri).size,
             "parquet": pq_uri and quarry.stat(pq_uri).size, "files": args.files}

    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    import ray.data
    ray.data.DataContext.get_current().enable_progress_bars = False
    readers = args.readers.split(",")
    if "daft" in readers:
        import daft
        daft.set_runner_ray()  # the Ray started above, 2 CPUs
    names = {"quarry": "Quarry", "ray": "Ray Data", "daft": "Daft"}
    load = os.getloadavg()
    rows = []
    for name, kind, fns in workloads(csv_uri, pq_uri, files_prefix):
        if kind not in chosen:
            continue
        best = {who: float("inf") for who in readers}
        results = {}
        for who in readers:
            fns[who]()  # warm the workers' imports
        for _ in range(args.rounds):
            for who in readers:
                t = time.perf_counter()
                results[who] = fns[who]()
                best[who] = min(best[who], time.perf_counter() - t)
        q = results["quarry"]
        for who in readers:
            r = results[who]
            assert (abs(q - r) <= 1e-6 * abs(r)) if isinstance(r, float) else q == r, (
                name, who, q, r)
        rows.append((name, kind, best))
        print(f"{name}: " + ", ".join(f"{names[w]} {best[w]:.2f} s" for w in readers), flush=True)
    load_after = os.getloadavg()
    print(f"\nRay 2 CPUs; CSV {(sizes['csv'] or 0) / 2**20:.0f} MiB, Parquet "
          f"{(sizes['parquet'] or 0) / 2**20:.0f} MiB, {args.files} x {args.file_kib} KiB; best of "
          f"{args.rounds}; load average {load[0]:.1f} at the start, {load_after[0]:.1f} at the end")
    others = [w for w in readers if w != "quarry"]
    print("\n| workload | " + " | ".join(names[w] for w in readers) + " | " +
          " | ".join(f"Quarry against {names[w]}" for w in others) + " |")
    print("|---" * (len(readers) + len(others) + 1) + "|")
    for name, kind, best in rows:
        unit = (lambda s: f"{sizes[kind] / s / 1e6:.0f} MB/s") if kind != "files" else (
            lambda s: f"{sizes[kind] / s:.0f} objects/s")
        print(f"| {name} | " + " | ".join(f"{best[w]:.2f} s ({unit(best[w])})" for w in readers)
              + " | " + " | ".join(f"{best[w] / best['quarry']:.2f}x" for w in others) + " |")
    ray.shutdown()
    if args.clean:
        quarry.delete(f"s3://{BUCKET}/", recursive=True)


def _bucket_exists():
    try:
        next(iter(quarry.ls(f"s3://{BUCKET}/")), None)
        return True
    except quarry.NotFound:
        return False


if __name__ == "__main__":
    main()
