"""The plain Python read loop over data_stream against one curl stream, on the local RGW.

Each partition of a line-chunked scan (local executor) is read with

    while b := obj.data_stream.read(1 << 20):
        n += b.count(b"\\n")

which holds the GIL only to count: read() waits and copies with the GIL released. curl GETs the
same object with a presigned (SigV4) URL into /dev/null. Rounds alternate the two, so a drift in
the machine's speed (the RGW shares the cores) favours neither; the best of each is kept.

    bench/read_loop.py                 # 512 MiB, 32 MiB chunks, 5 rounds
    bench/read_loop.py --mib 64 --rounds 2
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

import quarry  # noqa: E402


def count_newlines(obj):
    n = 0
    stream = obj.data_stream
    while b := stream.read(1 << 20):
        n += b.count(b"\n")
    return n


def cli(*args):
    return subprocess.run([str(ROOT / "build/release/quarry"), *args], check=True,
                          capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--chunk-mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    bucket = "quarry-bench-readloop"
    uri = f"s3://{bucket}/lines-{args.mib}.csv"
    quarry.create_bucket(f"s3://{bucket}")
    line = b"%d,quarry-read-loop,%d.%02d\n"
    with tempfile.NamedTemporaryFile() as f:
        block = b"".join(line % (i, i % 1000, i % 100) for i in range(40000))
        while f.tell() < args.mib << 20:
            f.write(block)
        f.flush()
        size = f.tell()
        expected = block.count(b"\n") * (size // len(block))
        cli("cp", f.name, uri)
    try:
        url = cli("presign", uri).strip()
        best = {}
        for _ in range(args.rounds):
            t = time.perf_counter()
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
            best["curl"] = min(best.get("curl", 1e9), time.perf_counter() - t)
            t = time.perf_counter()
            got = sum(quarry.map(count_newlines, uri, chunk_size=args.chunk_mib << 20,
                                 newline=b"\n", executor="local"))
            best["loop"] = min(best.get("loop", 1e9), time.perf_counter() - t)
            assert got == expected, (got, expected)
    finally:
        quarry.delete(uri)
    mbps = {k: size / v / 1e6 for k, v in best.items()}
    print(f"| {args.mib} MiB, {args.chunk_mib} MiB line-aligned chunks, local executor | MB/s |")
    print("|---|---|")
    print(f"| curl, one stream (presigned) | {mbps['curl']:.0f} |")
    print(f"| data_stream.read(1 MiB) loop + bytes.count | {mbps['loop']:.0f} |")
    load = os.getloadavg()[0]
    print(f"\nratio loop/curl: {mbps['loop'] / mbps['curl']:.2f} (best of {args.rounds}; load "
          f"average {load:.1f} on {os.cpu_count()} CPUs: the loop needs a core for bytes.count, "
          f"curl next to none, so a busy machine lowers the ratio)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"mbps": mbps, "bytes": size}))


if __name__ == "__main__":
    sys.exit(main())
