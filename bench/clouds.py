"""gs:// and az:// on their local emulators: Quarry against each cloud's official SDK and obstore.

For each store (fake-gcs-server for gs, Azurite for az), in one run:

  list:  N keys in 50 sub-prefixes listed recursively (keys/s): quarry.ls; the SDK's paginated
         list (google-cloud-storage list_blobs, azure-storage-blob list_blobs); obstore.list.
  small: M objects of S bytes, every byte hashed on Ray with 2 CPUs (objects/s): quarry.map;
         the SDK with a client per Ray task (one object a task, the blog's shape); the SDK
         with one client per worker process reused by tasks of 64 objects; obstore inside Ray
         tasks of 64 objects.
  large: one object of L MiB read to nowhere (MB/s): `quarry cat` and Quarry's data_stream
         (chunks() drained in Python) against one curl stream of the same object.

Beside each figure, the emulator's own CPU seconds over it (from /proc), so that a figure the
emulator bounds shows as one: both emulators and the clients share this machine's cores.

    scripts/test-servers start && eval "$(scripts/test-servers env)"
    python bench/clouds.py [--store gs,az] [--keys 20000] [--objects 2000] [--large-mib 512]
    python bench/clouds.py --smoke      # small sizes, a minute

The objects stay in the buckets quarry-bench-clouds-<workload> for the next run (writing 20,000
objects takes the emulators minutes); scripts/test-servers restart empties them.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import quarry

TICKS = os.sysconf("SC_CLK_TCK")


def emulator_pid(store):
    pattern = {"gs": "fake-gcs-server", "az": "azurite-blob"}[store]
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def cpu_seconds(pid):
    """utime + stime of a process and its reaped children, in seconds (0 if unknown)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


class Measure:
    def __init__(self, store):
        self.pid = emulator_pid(store)

    def __call__(self, fn):
        cpu0, t0 = cpu_seconds(self.pid), time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, cpu_seconds(self.pid) - cpu0, out


# --- the stores, as each client names them ---------------------------------------------------

def az_settings():
    parts = dict(p.split("=", 1) for p in os.environ["AZURE_STORAGE_CONNECTION_STRING"].split(";")
                 if p)
    return parts["AccountName"], parts["AccountKey"], parts["BlobEndpoint"]


def gs_endpoint():
    host = os.environ["STORAGE_EMULATOR_HOST"]
    return host if "://" in host else "http://" + host


def sdk_client(store):
    if store == "gs":
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage
        return storage.Client(project="quarry-bench", credentials=AnonymousCredentials())
    from azure.storage.blob import BlobServiceClient
    return BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])


def sdk_read(client, store, bucket, key):
    if store == "gs":
        return client.bucket(bucket).blob(key).download_as_bytes()
    return client.get_blob_client(bucket, key).download_blob().readall()


def sdk_list(client, store, bucket, prefix):
    if store == "gs":
        return [b.name for b in client.list_blobs(bucket, prefix=prefix)]
    return [b.name for b in client.get_container_client(bucket).list_blobs(
        name_starts_with=prefix)]


def obstore_store(store, bucket):
    from obstore.store import AzureStore, GCSStore
    if store == "gs":
        # object_store reads a base URL and "no OAuth" from a service-account key: its own
        # way of pointing at fake-gcs-server.
        key = json.dumps({"gcs_base_url": gs_endpoint(), "disable_oauth": True,
                          "client_email": "", "private_key": "", "private_key_id": ""})
        return GCSStore(bucket, service_account_key=key, client_options={"allow_http": True})
    account, key, endpoint = az_settings()
    os.environ["AZURITE_BLOB_STORAGE_URL"] = endpoint.rsplit("/", 1)[0]
    return AzureStore(bucket, account_name=account, account_key=key, use_emulator=True,
                      client_options={"allow_http": True})


# --- the workloads -----------------------------------------------------------------------------

def fill(store, bucket, prefix, keys, payload_of):
    """Writes the keys under prefix unless a run before this one did (the emulators take
    minutes to take 20,000 objects): the bucket is kept for the next run."""
    if sum(1 for _ in quarry.ls(f"{store}://{bucket}/{prefix}", recursive=True)) == len(keys):
        return
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: quarry.put(f"{store}://{bucket}/{k}", payload_of(k)), keys))


def bench_list(store, bucket, count, measure, rows):
    keys = [f"list-{count}/d{i % 50:02d}/k{i:06d}" for i in range(count)]
    fill(store, bucket, f"list-{count}/", keys, lambda k: b"")
    expected = sorted(keys)

    def check(name, fn):
        t, cpu, got = measure(fn)
        assert sorted(got) == expected, f"{name}: {len(got)} keys of {count}"
        rows.append((store, f"list {count:,} keys", name, count / t, "keys/s", cpu))

    prefix = f"list-{count}/"
    check("Quarry quarry.ls", lambda: [o.key for o in quarry.ls(f"{store}://{bucket}/{prefix}",
                                                                  recursive=True)])
    client = sdk_client(store)
    check("official SDK, paginated list", lambda: sdk_list(client, store, bucket, prefix))
    try:
        import obstore
        ob = obstore_store(store, bucket)
        check("obstore list", lambda: [m["path"] for batch in obstore.list(ob, prefix=prefix)
                                       for m in batch])
    except Exception as e:  # noqa: BLE001 - a peer that cannot run here is reported, not fatal
        print(f"{store} obstore list: failed: {type(e).__name__}: {e}", file=sys.stderr)


def bench_small(store, bucket, count, size, measure, rows, ray):
    prefix = f"small-{count}x{size}/"
    keys = [f"{prefix}obj-{i:06d}" for i in range(count)]
    payload = random.Random(7).randbytes(size)  # the same bytes in every run (kept objects)
    fill(store, bucket, prefix, keys,
         lambda k: payload[int(k[-6:]) % size:] + payload[:int(k[-6:]) % size])
    expected = sorted(hashlib.sha256(payload[i % size:] + payload[:i % size]).hexdigest()
                      for i in range(count))

    @ray.remote
    def sdk_per_task(key):
        client = sdk_client(store)
        return hashlib.sha256(sdk_read(client, store, bucket, key)).hexdigest()

    @ray.remote
    def sdk_reused(batch):
        global _bench_client  # one client per worker process, kept across tasks
        try:
            client = _bench_client
        except NameError:
            client = _bench_client = sdk_client(store)
        return [hashlib.sha256(sdk_read(client, store, bucket, k)).hexdigest() for k in batch]

    @ray.remote
    def obstore_batch(batch):
        import obstore
        ob = obstore_store(store, bucket)
        return [hashlib.sha256(bytes(obstore.get(ob, k).bytes())).hexdigest() for k in batch]

    def batches():  # listed inside each timed run, as Quarry's own listing is
        listed = sdk_list(sdk_client(store), store, bucket, prefix)
        return [listed[i:i + 64] for i in range(0, len(listed), 64)]

    runners = [
        ("Quarry quarry.map on Ray", lambda: quarry.map(
            lambda obj: hashlib.sha256(obj.read()).hexdigest(), f"{store}://{bucket}/{prefix}",
            progress=False)),
        ("official SDK, a client per Ray task", lambda: ray.get(
            [sdk_per_task.remote(k) for k in sdk_list(sdk_client(store), store, bucket, prefix)])),
        ("official SDK, a reused client per worker (64 a task)", lambda: [
            h for b in ray.get([sdk_reused.remote(b) for b in batches()]) for h in b]),
        ("obstore inside Ray tasks (64 a task)", lambda: [
            h for b in ray.get([obstore_batch.remote(b) for b in batches()]) for h in b]),
    ]
    for name, fn in runners:
        try:
            fn() if name.startswith("Quarry") else None  # warm the workers' imports
            t, cpu, got = measure(fn)
        except Exception as e:  # noqa: BLE001
            print(f"{store} {name}: failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        assert sorted(got) == expected, f"{name}: wrong hashes"
        rows.append((store, f"{count:,} x {size // 1024} KiB on Ray, 2 CPUs", name, count / t,
                     "objects/s", cpu))


def quarry_cli():
    here = os.path.join(os.path.dirname(__file__), "..", "build", "release", "quarry")
    return shutil.which("quarry") or (here if os.path.exists(here) else None)


def bench_large(store, bucket, mib, measure, rows, rounds):
    key = "large/object.bin"
    uri = f"{store}://{bucket}/{key}"
    data = os.urandom(1 << 20) * mib
    quarry.put(uri, data)
    del data
    size = mib << 20
    cli = quarry_cli()
    if store == "gs":
        url = f"{gs_endpoint()}/storage/v1/b/{bucket}/o/{key.replace('/', '%2F')}?alt=media"
    else:
        url = subprocess.run([cli, "presign", uri], capture_output=True, text=True,
                             check=True).stdout.strip()

    def curl():
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", url],
                             capture_output=True, text=True, check=True).stdout
        return int(out)

    def cat():
        with open(os.devnull, "wb") as null:
            subprocess.run([cli, "cat", uri], stdout=null, check=True)
        return size

    def stream():
        return sum(quarry.map(lambda obj: sum(len(c) for c in obj.data_stream.chunks()), uri,
                              executor="local"))

    runners = [("one curl stream", curl), ("Quarry quarry cat", cat),
               ("Quarry data_stream.chunks()", stream)]
    best = {}
    for _ in range(rounds):  # alternating rounds, best of each: a drift favours none
        for name, fn in runners:
            t, cpu, got = measure(fn)
            assert got == size, f"{name}: {got} bytes of {size}"
            if name not in best or t < best[name][0]:
                best[name] = (t, cpu)
    for name, _ in runners:
        t, cpu = best[name]
        rows.append((store, f"one {mib} MiB object, best of {rounds}", name, size / t / 1e6,
                     "MB/s", cpu))
    quarry.delete(uri)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="gs,az")
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--objects", type=int, default=2_000)
    ap.add_argument("--size", type=int, default=32 << 10)
    ap.add_argument("--large-mib", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="list,small,large")
    ap.add_argument("--smoke", action="store_true", help="500 keys, 100 objects, 16 MiB")
    args = ap.parse_args()
    if args.smoke:
        args.keys, args.objects, args.large_mib, args.rounds = 500, 100, 16, 1

    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = []
    for store in args.store.split(","):
        measure = Measure(store)
        for part in args.only.split(","):
            # A bucket per workload, kept: the next run finds its objects written. Apart,
            # because fake-gcs-server's every request costs it time in proportion to the
            # objects of the bucket (a GET of 32 KiB: 0.3 ms in a bucket of one object, 16 ms
            # in one of 22,000).
            bucket = f"quarry-bench-clouds-{part}"
            quarry.create_bucket(f"{store}://{bucket}")
            if part == "list":
                bench_list(store, bucket, args.keys, measure, rows)
            elif part == "small":
                bench_small(store, bucket, args.objects, args.size, measure, rows, ray)
            elif part == "large":
                bench_large(store, bucket, args.large_mib, measure, rows, args.rounds)
            print_rows([r for r in rows if r[0] == store], flush=True)  # as soon as there

    ray.shutdown()
    print_rows(rows)


def print_rows(rows, flush=False):
    print("\n| store | workload | tool | value | emulator CPU s |\n|---|---|---|---|---|")
    for store, workload, name, value, unit, cpu in rows:
        print(f"| {store} | {workload} | {name} | {value:,.1f} {unit} | {cpu:.2f} |",
              flush=flush)


if __name__ == "__main__":
    main()
