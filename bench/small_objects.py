"""Small objects on Ray: 5,000 x 32 KiB objects on the local RGW, a function that reads every
byte and hashes it, Ray with 2 CPUs, in one run:

  (a) the blog's baseline: the driver lists with the boto3 paginator, one Ray task per object
      builds its own boto3 client and GETs the object;
  (b) Lithops 3.8 as the blog used it: LocalhostExecutor().map(f, "bucket/prefix/") with the
      `obj` parameter, storage pointed at RGW (its "ceph" backend);
  (c) Ray Data read_binary_files + map;
  (d) Quarry: quarry.map(f, "s3://bucket/prefix/");
  (e) obstore and (f) s3fs inside Ray tasks (64 objects a task, one client a task).

    python bench/small_objects.py [--count 5000] [--size 32768] [--smoke] [--only a,b,c,d]

Needs scripts/test-servers start and the environment it prints.
"""

import argparse
import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import quarry

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:7480")
KEY = os.environ.get("AWS_ACCESS_KEY_ID", "")
SECRET = os.environ.get("AWS_SECRET_ACCESS_KEY", "")


def prepare(bucket, prefix, count, size):
    quarry.create_bucket(f"s3://{bucket}")
    have = sum(1 for _ in quarry.ls(f"s3://{bucket}/{prefix}"))
    if have == count:
        return
    quarry.delete(f"s3://{bucket}/{prefix}", recursive=True) if have else None
    payload = os.urandom(size)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: quarry.put(f"s3://{bucket}/{prefix}obj-{i:06d}",
                                           payload[i % size:] + payload[:i % size]),
                      range(count)))


def run_baseline(ray, bucket, prefix):
    import boto3

    @ray.remote
    def fetch(key):
        s3 = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=KEY,
                          aws_secret_access_key=SECRET, region_name="us-east-1")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return hashlib.sha256(body).hexdigest()

    s3 = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=KEY,
                      aws_secret_access_key=SECRET, region_name="us-east-1")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return ray.get([fetch.remote(k) for k in keys])


def run_lithops(ray, bucket, prefix):
    import lithops

    config = {"lithops": {"backend": "localhost", "storage": "ceph", "log_level": "WARNING"},
              "localhost": {"runtime": sys.executable, "worker_processes": 2},
              "ceph": {"endpoint": ENDPOINT, "access_key_id": KEY, "secret_access_key": SECRET}}

    def f(obj):
        return hashlib.sha256(obj.data_stream.read()).hexdigest()

    fexec = lithops.LocalhostExecutor(config=config)
    # Without a scheme LocalhostExecutor lists its local-disk storage; name the backend.
    fexec.map(f, f"ceph://{bucket}/{prefix}")
    return fexec.get_result()


def run_ray_data(ray, bucket, prefix):
    import pyarrow.fs

    fs = pyarrow.fs.S3FileSystem(endpoint_override=ENDPOINT, access_key=KEY, secret_key=SECRET,
                                 scheme="http", region="us-east-1")
    ds = ray.data.read_binary_files(f"{bucket}/{prefix}", filesystem=fs)
    return [r["h"] for r in ds.map(lambda r: {"h": hashlib.sha256(r["bytes"]).hexdigest()})
            .take_all()]


def _batches(keys, size=64):
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def run_obstore(ray, bucket, prefix):
    import obstore
    from obstore.store import S3Store

    @ray.remote
    def fetch(keys):
        store = S3Store(bucket, endpoint=ENDPOINT, access_key_id=KEY, secret_access_key=SECRET,
                        region="us-east-1", client_options={"allow_http": True})
        return [hashlib.sha256(bytes(obstore.get(store, k).bytes())).hexdigest() for k in keys]

    keys = [o.key for o in quarry.ls(f"s3://{bucket}/{prefix}")]
    return [h for batch in ray.get([fetch.remote(b) for b in _batches(keys)]) for h in batch]


def run_s3fs(ray, bucket, prefix):
    @ray.remote
    def fetch(keys):
        import s3fs
        fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=ENDPOINT)
        return [hashlib.sha256(fs.cat_file(f"{bucket}/{k}")).hexdigest() for k in keys]

    keys = [o.key for o in quarry.ls(f"s3://{bucket}/{prefix}")]
    return [h for batch in ray.get([fetch.remote(b) for b in _batches(keys)]) for h in batch]


def run_quarry(ray, bucket, prefix):
    return quarry.map(lambda obj: hashlib.sha256(obj.read()).hexdigest(),
                      f"s3://{bucket}/{prefix}", progress=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--size", type=int, default=32 << 10)
    parser.add_argument("--smoke", action="store_true", help="200 objects")
    parser.add_argument("--only", default="a,b,c,d,e,f")
    parser.add_argument("--json", help="also write the rates (objects/s) to this file")
    parser.add_argument("--lithops-count", type=int, default=200,
                        help="objects for Lithops, which runs at a few objects/s here; its rate "
                             "is measured on its own prefix of this many objects")
    args = parser.parse_args()
    if args.smoke:
        args.count = 200
    bucket, prefix = "quarry-bench-small", f"n{args.count}-s{args.size}/"
    prepare(bucket, prefix, args.count, args.size)
    lithops_count = min(args.lithops_count, args.count)
    lithops_prefix = f"n{lithops_count}-s{args.size}/"
    if "b" in args.only:
        prepare(bucket, lithops_prefix, lithops_count, args.size)

    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    runners = {"a": ("boto3 client per Ray task (blog baseline)", run_baseline),
               "b": ("Lithops 3.8 LocalhostExecutor", run_lithops),
               "c": ("Ray Data read_binary_files + map", run_ray_data),
               "d": ("Quarry quarry.map", run_quarry),
               "e": ("obstore inside Ray tasks (64 objects a task)", run_obstore),
               "f": ("s3fs inside Ray tasks (64 objects a task)", run_s3fs)}
    rates = {}
    reference = None
    for key in args.only.split(","):
        name, fn = runners[key]
        fn(ray, bucket, prefix) if key == "d" else None  # warm the workers' imports
        count = lithops_count if key == "b" else args.count
        t = time.perf_counter()
        try:
            hashes = fn(ray, bucket, lithops_prefix if key == "b" else prefix)
        except Exception as e:  # noqa: BLE001 - a peer that cannot run here is reported, not fatal
            print(f"{name}: failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        secs = time.perf_counter() - t
        assert len(hashes) == count, f"{name}: {len(hashes)} results"
        if key != "b":
            if reference is None:
                reference = sorted(hashes)
            assert sorted(hashes) == reference, f"{name}: hashes differ"
        rates[key] = count / secs
        print(f"{name}: {count} objects in {secs:.2f} s, {rates[key]:.1f} objects/s", flush=True)
    print(f"\n| {args.count} x {args.size // 1024} KiB, Ray 2 CPUs | objects/s | Quarry is |")
    print("|---|---|---|")
    for key, rate in rates.items():
        ratio = f"{rates['d'] / rate:.1f}x" if "d" in rates and key != "d" else "-"
        label = runners[key][0] + (f" ({lithops_count} objects)" if key == "b" else "")
        print(f"| {label} | {rate:.1f} | {ratio} |")
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump({runners[k][0]: r for k, r in rates.items()}, f)
    ray.shutdown()


if __name__ == "__main__":
    main()
