"""gs:// reads and writes on fake-gcs-server: Quarry against the google-cloud-storage client.

  small: N objects of S bytes read back (Quarry: quarry.map on the local executor; the client:
         download_as_bytes in a pool of as many threads);
  large: one object of L MiB uploaded and downloaded (Quarry: quarry.put / quarry.get; the
         client: upload_from_string / download_as_bytes), checked by SHA-256.

The emulator is Go serving from memory, on the same machine: the figures compare the clients'
overheads under one server, not what Google's service would give.

    STORAGE_EMULATOR_HOST=http://127.0.0.1:4443 python bench/gs_vs_client.py [--count 500]
"""

import argparse
import hashlib
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import quarry


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--size", type=int, default=16 << 10)
    ap.add_argument("--large-mib", type=int, default=128)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    client = storage.Client(project="quarry-bench", credentials=AnonymousCredentials())
    name = "quarry-bench-gs-" + uuid.uuid4().hex[:10]
    quarry.create_bucket(f"gs://{name}")
    bucket = client.bucket(name)
    try:
        body = os.urandom(args.size)
        keys = [f"small/{i:06d}" for i in range(args.count)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: quarry.put(f"gs://{name}/{k}", body), keys))

        t_q, got = timed(lambda: quarry.map(lambda o: len(o.read()), f"gs://{name}/small/",
                                            executor="local"))
        assert got == [args.size] * args.count
        with ThreadPoolExecutor(args.threads) as pool:
            t_c, got = timed(lambda: list(pool.map(
                lambda k: len(bucket.blob(k).download_as_bytes()), keys)))
        assert got == [args.size] * args.count
        print(f"small: {args.count} x {args.size} B read: quarry.map {t_q:.2f} s "
              f"({args.count / t_q:.0f}/s); google-cloud-storage, {args.threads} threads "
              f"{t_c:.2f} s ({args.count / t_c:.0f}/s)")

        data = os.urandom(args.large_mib << 20)
        digest = hashlib.sha256(data).digest()
        mib = args.large_mib
        t_qp, _ = timed(lambda: quarry.put(f"gs://{name}/large/q.bin", data))
        t_qg, got = timed(lambda: quarry.get(f"gs://{name}/large/q.bin"))
        assert hashlib.sha256(got).digest() == digest
        del got
        blob = bucket.blob("large/c.bin")
        t_cp, _ = timed(lambda: blob.upload_from_string(data))
        t_cg, got = timed(lambda: blob.download_as_bytes())
        assert hashlib.sha256(got).digest() == digest
        del got
        print(f"large: {mib} MiB put/get: quarry {t_qp:.2f} s / {t_qg:.2f} s "
              f"({mib / t_qp:.0f} / {mib / t_qg:.0f} MiB/s); google-cloud-storage "
              f"{t_cp:.2f} s / {t_cg:.2f} s ({mib / t_cp:.0f} / {mib / t_cg:.0f} MiB/s)")
    finally:
        quarry.delete(f"gs://{name}/", recursive=True)
        bucket.delete()


if __name__ == "__main__":
    main()
