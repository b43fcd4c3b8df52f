"""Bytes moved by random-access readers over quarry.open, counted at the wire.

A counting proxy (python/tests/fault_proxy.py) relays every request to the local RGW and counts
the reply bytes it hands to Quarry; each figure is those bytes over the file's size.

    bench/random_access.py            # a 64 MiB Parquet file of 8 columns, a 300 MB object
    bench/random_access.py --smoke    # 8 MiB and 32 MB
"""

import argparse
import io
import os
import pathlib
import sys
import uuid
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python" / "tests"))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import quarry  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402


def parquet_bytes(rows):
    import numpy as np
    rng = np.random.default_rng(7)
    table = pa.table({f"c{i}": rng.random(rows) for i in range(8)})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=max(1, rows // 8), compression="none")
    return sink.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    rows = (1 << 17) if args.smoke else (1 << 20)
    big = (32 if args.smoke else 300) * 1000 * 1000
    bucket = "quarry-bench-access-" + uuid.uuid4().hex[:8]
    quarry.create_bucket(f"s3://{bucket}")
    proxy = FaultProxy(os.environ["AWS_ENDPOINT_URL"])
    opts = {"endpoint": proxy.endpoint}
    rows_out = []

    def measure(label, size, fn):
        proxy.reset_counts()
        fn()
        rows_out.append((label, proxy.body_bytes, size, len(proxy.gets)))

    try:
        data = parquet_bytes(rows)
        pq_uri = f"s3://{bucket}/t.parquet"
        quarry.put(pq_uri, data)
        n = len(data)
        measure("Parquet: metadata only", n,
                lambda: pq.ParquetFile(quarry.open(pq_uri, storage_options=opts)).metadata)
        measure("Parquet: one column of 8", n,
                lambda: pq.read_table(quarry.open(pq_uri, storage_options=opts), columns=["c3"]))
        measure("Parquet: read_table", n,
                lambda: pq.read_table(quarry.open(pq_uri, storage_options=opts)))

        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w") as z:
            for i in range(16):
                z.writestr(f"m{i}.bin", os.urandom(len(data) // 16))
        zip_uri = f"s3://{bucket}/a.zip"
        quarry.put(zip_uri, zbuf.getvalue())

        def one_member():
            with zipfile.ZipFile(quarry.open(zip_uri, storage_options=opts)) as z:
                z.read("m9.bin")
        measure("zip: one member of 16", len(zbuf.getvalue()), one_member)

        big_uri = f"s3://{bucket}/big.bin"
        quarry.put(big_uri, os.urandom(big))

        def tail():
            with quarry.open(big_uri, storage_options=opts) as f:
                f.seek(-8, io.SEEK_END)
                f.read()
                f.seek(1000)
                f.read(100)
        measure(f"{big // 1000000} MB object: seek(-8, SEEK_END), read; seek back, read 100",
                big, tail)
    finally:
        proxy.close()
        quarry.delete(f"s3://{bucket}/", recursive=True)

    print("| reader | bytes at the wire | / file | GETs |")
    print("|---|---|---|---|")
    for label, moved, size, gets in rows_out:
        print(f"| {label} | {moved:,} | {moved / size:.3f} | {gets} |")


if __name__ == "__main__":
    main()
