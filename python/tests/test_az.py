"""az:// against Azurite: the storage API, jobs on the local executor and on Ray, and a
cross-check with the independent azure-storage-blob client (what Quarry writes it reads byte for
byte, what it writes Quarry lists and reads); Azure AD tokens fetched once per job."""

import hashlib
import os
import uuid

import pytest

import quarry

azure_blob = pytest.importorskip("azure.storage.blob")

AWKWARD = ["sp ace/x y.txt", "plus+sign", "pct%41%2F", "uni/\u00e9\u20ac\U0001F600",
           "double//slash", "q?x#y&z=1", "tilde~!$'()*,", "folder/ lead space "]


@pytest.fixture(scope="module")
def az():
    if os.environ.get("QUARRY_TEST_AZ") != "1":
        pytest.skip("needs Azurite: scripts/test-servers start && eval \"$(scripts/test-servers env)\"")
    return azure_blob.BlobServiceClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"])


@pytest.fixture
def container(az):
    name = "quarry-py-az-" + uuid.uuid4().hex[:12]
    quarry.create_bucket(f"az://{name}")
    yield name
    az.get_container_client(name).delete_container()  # and every blob in it


def lines_of(i, n):
    return b"".join(b"obj%d,line%d,%s\n" % (i, j, b"x" * (j % 37)) for j in range(n))


def test_put_get_ls_stat_open_delete(container):
    base = f"az://{container}"
    quarry.put(f"{base}/dir/a.bin", b"x" * 1000)
    quarry.put(f"{base}/dir/b b+%41.txt", b"hello", content_type="text/plain")
    quarry.put(f"{base}/top", memoryview(b"abc"))
    infos = list(quarry.ls(f"{base}/"))
    assert [i.key for i in infos] == ["dir/a.bin", "dir/b b+%41.txt", "top"]
    assert infos[0].size == 1000 and infos[0].etag and infos[0].uri == f"{base}/dir/a.bin"
    assert [i.key for i in quarry.ls(f"{base}/", recursive=False)] == ["top"]
    assert quarry.get(f"{base}/dir/b b+%41.txt") == b"hello"
    assert quarry.get(f"{base}/dir/a.bin", start=10, stop=15) == b"xxxxx"
    assert quarry.stat(f"{base}/top").size == 3
    with quarry.open(f"{base}/dir/a.bin") as f:
        f.seek(990)
        assert f.read() == b"x" * 10
    assert quarry.delete(f"{base}/top") == 1
    assert quarry.delete(f"{base}/dir/", recursive=True) == 2
    assert list(quarry.ls(f"{base}/")) == []
    with pytest.raises(quarry.NotFound, match="no blob named 'gone'"):
        quarry.get(f"{base}/gone")
    with pytest.raises(quarry.NotFound, match="container 'no-such-container-q' does not exist"):
        list(quarry.ls("az://no-such-container-q/"))
    assert any(b.bucket == container for b in quarry.ls("az://"))


def _check_line_chunks(results, objects):
    """Each partition's data is whole lines; per object, the partitions concatenate to it."""
    by_uri = {}
    for uri, part, data in results:
        assert data == b"" or data.endswith(b"\n")
        by_uri.setdefault(uri, []).append((part, data))
    assert set(by_uri) == set(objects)
    for uri, parts in by_uri.items():
        parts.sort()
        assert b"".join(d for _, d in parts) == objects[uri], uri
        assert len(parts) > 1


def _read_partition(obj):
    return obj.uri, obj.part, obj.read()


@pytest.fixture
def line_objects(container):
    objects = {}
    for i in range(6):
        uri = f"az://{container}/logs/part {i}.csv"
        objects[uri] = lines_of(i, 200 + 37 * i)
        quarry.put(uri, objects[uri])
    return objects


def test_map_over_an_az_prefix_locally_gives_exact_line_chunks(container, line_objects):
    results = quarry.map(_read_partition, f"az://{container}/logs/", executor="local",
                         chunk_size=1000, newline=b"\n")
    _check_line_chunks(results, line_objects)


def test_map_over_an_az_prefix_on_ray_gives_exact_line_chunks(container, line_objects, local_ray):
    job = quarry.submit(_read_partition, f"az://{container}/logs/", executor="ray",
                        chunk_size=777, newline=b"\n", partitions_per_task=5)
    _check_line_chunks(job.result(), line_objects)
    assert job.stats["partitions"] == len(job.result())
    assert job.stats["bytes_read"] >= sum(len(v) for v in line_objects.values())


def test_what_quarry_writes_the_sdk_reads_byte_for_byte(az, container):
    small = {f"q/{k}": k.encode() * 3 for k in AWKWARD}
    small["q/empty"] = b""
    for key, data in small.items():
        quarry.put(f"az://{container}/{key}", data)
    # Above the block threshold: several Put Block requests and a Put Block List.
    big = os.urandom((9 << 20) + 12345)
    quarry.put(f"az://{container}/q/big.bin", big,
               storage_options={"part_size": str(2 << 20), "multipart_threshold": str(2 << 20)})
    client = az.get_container_client(container)
    listed = {b.name: b.size for b in client.list_blobs(name_starts_with="q/")}
    assert listed == {**{k: len(v) for k, v in small.items()}, "q/big.bin": len(big)}
    for key, data in small.items():
        assert client.download_blob(key).readall() == data, key
    got = client.download_blob("q/big.bin").readall()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()
    blocks = client.get_blob_client("q/big.bin").get_block_list("committed")[0]
    assert len(blocks) == 5


def test_what_the_sdk_writes_quarry_lists_and_reads(az, container):
    from concurrent.futures import ThreadPoolExecutor
    client = az.get_container_client(container)
    written = {f"s/{k}": (k * 2).encode() for k in AWKWARD}
    written["s/empty"] = b""
    written.update({f"s/many/{i:05d}": b"%d" % i for i in range(1050)})
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: client.upload_blob(kv[0], kv[1]), written.items()))
    infos = list(quarry.ls(f"az://{container}/s/"))
    assert [i.key for i in infos] == sorted(written, key=lambda k: k.encode())
    assert {i.key: i.size for i in infos} == {k: len(v) for k, v in written.items()}
    for key in [k for k in written if not k.startswith("s/many/")]:
        assert quarry.get(f"az://{container}/{key}") == written[key], key
    # Every blob seen once by a job, across listing pages.
    results = quarry.map(lambda obj: (obj.key, obj.read()), f"az://{container}/s/many/",
                         executor="local")
    assert dict(results) == {k: v for k, v in written.items() if k.startswith("s/many/")}


def test_sas_token_written_by_the_sdk_lets_quarry_read_but_not_write(az, container):
    from datetime import datetime, timedelta, timezone
    quarry.put(f"az://{container}/shared.txt", b"shared data")
    creds = dict(p.split("=", 1) for p in os.environ["AZURE_STORAGE_CONNECTION_STRING"].split(";")
                 if p)
    sas = azure_blob.generate_container_sas(
        creds["AccountName"], container, account_key=creds["AccountKey"],
        permission=azure_blob.ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    options = {"sas_token": sas, "endpoint": creds["BlobEndpoint"]}
    assert [i.key for i in quarry.ls(f"az://{container}/", storage_options=options)] == [
        "shared.txt"]
    assert quarry.get(f"az://{container}/shared.txt", storage_options=options) == b"shared data"
    with pytest.raises(quarry.PermissionDenied) as err:
        quarry.put(f"az://{container}/other.txt", b"no", storage_options=options)
    assert "SAS" in str(err.value) and sas.split("sig=")[1][:8] not in str(err.value)


def test_azure_ad_token_is_fetched_once_per_job_and_sent_as_bearer(container, local_ray):
    from azure_ad_servers import AdTokenServer, BearerBlobFront
    creds = dict(p.split("=", 1) for p in os.environ["AZURE_STORAGE_CONNECTION_STRING"].split(";")
                 if p)
    secret = "AD-SECRET-" + uuid.uuid4().hex
    tokens = AdTokenServer("tenant-1", "client-1", secret)
    origin = creds["BlobEndpoint"].rsplit("/", 1)[0]
    front = BearerBlobFront(tokens, origin, creds["AccountName"], creds["AccountKey"])
    try:
        for i in range(40):
            quarry.put(f"az://{container}/ad/{i:03d}", b"%d" % i)
        options = {"endpoint": front.endpoint, "tenant_id": "tenant-1", "client_id": "client-1",
                   "client_secret": secret, "authority_host": tokens.url}
        job = quarry.submit(lambda obj: int(obj.read()), f"az://{container}/ad/",
                            storage_options=options, executor="ray", partitions_per_task=10)
        assert job.result() == list(range(40))
        assert tokens.requests == 1
        assert job.stats["credential_fetches"] == 1
        assert front.bearer_requests >= 41  # the listing and every read went with the token
        assert secret not in repr(job.stats)

        bad = dict(options, client_secret="wrong-secret")
        with pytest.raises(quarry.PermissionDenied) as err:
            quarry.map(lambda obj: obj.read(), f"az://{container}/ad/", storage_options=bad,
                       executor="local")
        message = str(err.value)
        assert "client-1" in message and "tenant-1" in message and "wrong-secret" not in message
    finally:
        front.close()
        tokens.close()


def test_every_record_once_through_resets_truncations_and_throttling(container):
    import threading
    from fault_proxy import FaultProxy
    creds = dict(p.split("=", 1) for p in os.environ["AZURE_STORAGE_CONNECTION_STRING"].split(";")
                 if p)
    origin, account = creds["BlobEndpoint"].rsplit("/", 1)
    lines = [b"%d,row-%d,%s\n" % (i, i * 7, b"x" * (i % 50)) for i in range(100_000)]
    data = b"".join(lines)  # ~6.5 MiB
    uri = f"az://{container}/faults.csv"
    quarry.put(uri, data)
    attempts = {}
    firsts = [0]  # first attempts seen: the faults go round by them, whatever retries interleave
    lock = threading.Lock()

    def choose(n, method, path, headers):
        if method != "GET" or "comp=list" in path:
            return None
        # A read's first attempt meets a fault by turns, its second at most a 503, then none.
        key = (path, headers.get("x-ms-range"))
        with lock:
            attempt = attempts[key] = attempts.get(key, -1) + 1
            first = firsts[0] = firsts[0] + (attempt == 0)
        if attempt == 0:
            return ("reset", "truncate", "slowdown", None)[first % 4]
        return "slowdown" if attempt == 1 and n % 3 == 0 else None

    proxy = FaultProxy(origin, choose)
    try:
        options = {"endpoint": f"{proxy.endpoint}/{account}"}
        job = quarry.submit(lambda obj: obj.read(), uri, chunk_size=1 << 20, newline=b"\n",
                            part_size=256 << 10, read_window=64 << 10, executor="local",
                            storage_options=options)
        got = b"".join(job.result())
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        assert job.stats["retries"] > 0
        assert proxy.injected["reset"] > 3 and proxy.injected["truncate"] > 3
        assert proxy.injected["slowdown"] > 3
    finally:
        proxy.close()
