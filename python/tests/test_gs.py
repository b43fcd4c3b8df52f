"""gs:// on fake-gcs-server: the storage API, quarry.map on the local executor and on Ray (line
chunks exact), cross-checks with the independent google-cloud-storage client both ways, and a
service account's token exchanged once per job (an RS256 JWT checked by a token endpoint of the
tests, the token checked by a front in front of the emulator)."""

import base64
import hashlib
import http.client
import io
import json
import os
import threading
import time
import urllib.parse
import uuid

import pytest

import quarry
from iam_servers import _Handler, _Loopback, _Upstream

AWKWARD = ["sp ace/a b.txt", "plus+sign", "pct%41%2F", "uni/\u00e9t\u00e9/\u20ac.csv",
           "double//slash", "/leading", "q?x#y&z=1", "tilde~star*", "emoji\U0001F600"]


@pytest.fixture(scope="session")
def gs():
    if os.environ.get("QUARRY_TEST_GS") != "1":
        pytest.skip("needs fake-gcs-server: scripts/test-servers start && "
                    "eval \"$(scripts/test-servers env)\"")
    return os.environ["STORAGE_EMULATOR_HOST"]


@pytest.fixture(scope="session")
def google(gs):
    """The independent client, on the emulator (it reads STORAGE_EMULATOR_HOST)."""
    storage = pytest.importorskip("google.cloud.storage")
    from google.auth.credentials import AnonymousCredentials
    return storage.Client(project="quarry-test", credentials=AnonymousCredentials())


@pytest.fixture
def gbucket(gs, google):
    name = "quarry-py-gs-" + uuid.uuid4().hex[:12]
    quarry.create_bucket(f"gs://{name}")
    yield name
    try:
        quarry.delete(f"gs://{name}/", recursive=True)
    except quarry.NotFound:
        pass
    google.bucket(name).delete()


def lines_text(n, seed):
    return b"".join(b"%d,%s,row %d\n" % (seed, b"x" * (i % 17), i) for i in range(n))


def test_put_get_ls_stat_open_delete(gbucket):
    base = f"gs://{gbucket}"
    quarry.put(f"{base}/dir/a.bin", b"x" * 1000)
    quarry.put(f"{base}/dir/b b+%41.txt", io.BytesIO(b"hello"), content_type="text/plain")
    quarry.put(f"{base}/top", memoryview(b"abc"))
    quarry.put(f"{base}/zero", b"")
    infos = list(quarry.ls(f"{base}/"))
    assert [i.key for i in infos] == ["dir/a.bin", "dir/b b+%41.txt", "top", "zero"]
    assert infos[0].size == 1000 and infos[0].etag and infos[0].uri == f"{base}/dir/a.bin"
    assert infos[0].last_modified.startswith("20") and infos[0].last_modified.endswith("Z")
    assert [i.key for i in quarry.ls(f"{base}/", recursive=False)] == ["top", "zero"]
    assert quarry.get(f"{base}/dir/b b+%41.txt") == b"hello"
    assert quarry.get(f"{base}/dir/a.bin", start=10, stop=15) == b"xxxxx"
    assert quarry.get(f"{base}/zero") == b""
    assert quarry.stat(f"{base}/top").size == 3
    with quarry.open(f"{base}/dir/b b+%41.txt") as f:
        f.seek(1)
        assert f.read(3) == b"ell"
    with pytest.raises(quarry.NotFound) as e:
        quarry.get(f"{base}/missing")
    assert "no object with key 'missing'" in str(e.value)
    assert quarry.delete(f"{base}/top") == 1
    assert quarry.delete(f"{base}/dir/", recursive=True) == 2
    assert [i.key for i in quarry.ls(f"{base}/")] == ["zero"]


def test_missing_bucket_is_not_found_naming_it(gs):
    with pytest.raises(quarry.NotFound) as e:
        list(quarry.ls("gs://quarry-no-such-bucket-x/"))
    assert "bucket 'quarry-no-such-bucket-x' does not exist" in str(e.value)


def test_bare_scheme_lists_buckets(gbucket):
    mine = [b for b in quarry.ls("gs://") if b.bucket == gbucket]
    assert mine and mine[0].uri == f"gs://{gbucket}/" and mine[0].creation_date.startswith("20")


def _count(obj):
    return sum(1 for _ in obj.lines())


def _data(obj):
    return obj.key, obj.part, obj.read()


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_map_over_a_gs_prefix_gives_exact_line_chunks(gbucket, executor, request):
    if executor == "ray":
        request.getfixturevalue("local_ray")
    objects = {f"logs/{i:02d}.csv": lines_text(300 + 41 * i, i) for i in range(6)}
    objects["logs/empty.csv"] = b""
    for key, data in objects.items():
        quarry.put(f"gs://{gbucket}/{key}", data)
    uri = f"gs://{gbucket}/logs/"
    counts = quarry.map(_count, uri, executor=executor)
    assert counts == [d.count(b"\n") for _, d in sorted(objects.items())]
    pieces = quarry.map(_data, uri, chunk_size=997, newline=b"\n", executor=executor,
                        partitions_per_task=4)
    joined = {}
    for key, part, data in pieces:
        assert not data or data.endswith(b"\n"), (key, part)  # whole lines only
        joined.setdefault(key, []).append((part, data))
    for key, data in objects.items():
        assert b"".join(d for _, d in sorted(joined[key])) == data, key
        assert len(joined[key]) == max(1, -(-len(data) // 997))


def test_what_quarry_writes_the_google_client_reads(gbucket, google):
    bucket = google.bucket(gbucket)
    big = os.urandom((20 << 20) + 333)  # above the resumable threshold: several chunks
    written = {k: ("v:" + k).encode() for k in AWKWARD}
    written["zero/empty"] = b""
    for key, data in written.items():
        quarry.put(f"gs://{gbucket}/{key}", data)
    quarry.put(f"gs://{gbucket}/big.bin", big, content_type="application/x-big")
    listed = {b.name: b.size for b in google.list_blobs(gbucket)}
    assert listed == {**{k: len(v) for k, v in written.items()}, "big.bin": len(big)}
    for key, data in written.items():
        assert bucket.blob(key).download_as_bytes() == data, key
    blob = bucket.get_blob("big.bin")
    assert blob.content_type == "application/x-big"
    assert hashlib.sha256(blob.download_as_bytes()).digest() == hashlib.sha256(big).digest()
    # The generation Quarry reports is the one the service reports.
    assert quarry.stat(f"gs://{gbucket}/big.bin").etag == str(blob.generation)


def test_what_the_google_client_writes_quarry_lists_and_reads(gbucket, google):
    bucket = google.bucket(gbucket)
    from concurrent.futures import ThreadPoolExecutor
    many = [f"many/{i:05d}" for i in range(1100)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: bucket.blob(k).upload_from_string(k.encode()), many))
    for key in AWKWARD:
        bucket.blob(key).upload_from_string(("g:" + key).encode())
    bucket.blob("zero").upload_from_string(b"")
    big = os.urandom(9 << 20)
    bucket.blob("big.bin").upload_from_string(big)
    infos = list(quarry.ls(f"gs://{gbucket}/many/"))
    assert [i.key for i in infos] == many  # across pages of 1,000
    assert all(i.size == len(i.key) for i in infos)
    keys = {i.key for i in quarry.ls(f"gs://{gbucket}/")}
    for key in AWKWARD:
        assert key in keys, key
        assert quarry.get(f"gs://{gbucket}/{key}") == ("g:" + key).encode(), key
    assert quarry.get(f"gs://{gbucket}/zero") == b""
    assert quarry.stat(f"gs://{gbucket}/zero").size == 0
    assert hashlib.sha256(quarry.get(f"gs://{gbucket}/big.bin")).digest() == \
        hashlib.sha256(big).digest()
    assert quarry.map(lambda obj: obj.read(), f"gs://{gbucket}/many/", executor="local") == \
        [k.encode() for k in many]


# ---- a service account, one token exchange per job ----

class GoogleTokenServer(_Loopback):
    """Plays Google's OAuth2 token endpoint for one service account: verifies the JWT-bearer
    assertion's RS256 signature with the account's public key and its claims, and issues
    expiring tokens; counts the exchanges."""

    def __init__(self, public_key, email, ttl_seconds=3600):
        self.requests = 0
        self.issued = {}
        self._lock = threading.Lock()
        outer = self
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def unb64(s):
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

        class Handler(_Handler):
            def do_POST(self):
                form = self._form()
                with outer._lock:
                    outer.requests += 1
                    n = outer.requests
                try:
                    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
                    head, claims, sig = form["assertion"][0].split(".")
                    public_key.verify(unb64(sig), f"{head}.{claims}".encode(),
                                      padding.PKCS1v15(), hashes.SHA256())
                    header, body = json.loads(unb64(head)), json.loads(unb64(claims))
                    assert header["alg"] == "RS256" and body["iss"] == email
                    assert body["aud"] == outer.url and "devstorage" in body["scope"]
                    assert abs(body["iat"] - time.time()) < 60
                except Exception as e:  # noqa: BLE001 - any flaw is a refusal
                    self._reply(400, {"error": "invalid_grant", "error_description": repr(e)})
                    return
                token = f"ya29.test-{n}-{uuid.uuid4().hex}"
                with outer._lock:
                    outer.issued[token] = time.time() + ttl_seconds
                self._reply(200, {"access_token": token, "expires_in": ttl_seconds,
                                  "token_type": "Bearer"})

            def _reply(self, status, obj):
                self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

        self.url = self._start(Handler) + "/token"

    def valid(self, token):
        with self._lock:
            exp = self.issued.get(token)
        return exp is not None and time.time() < exp


class BearerCheckingFront(_Loopback):
    """Stands in front of fake-gcs-server (which takes any token): passes on requests whose
    bearer token the token server issued, answers 401 to the others."""

    def __init__(self, tokens, upstream_url):
        self.rejected = 0
        upstream = _Upstream(upstream_url)
        outer = self

        class Handler(_Handler):
            def _handle(self):
                body = self._body()
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or not tokens.valid(auth[7:]):
                    outer.rejected += 1
                    self._send(401, json.dumps({"error": {"code": 401, "message": "bad token"}})
                               .encode(), {"Content-Type": "application/json"})
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("range", "content-type", "content-range",
                                            "accept-encoding")}
                conn = upstream.get()
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (http.client.HTTPException, OSError):
                    upstream.drop()
                    raise
                keep = {k: v for k, v in resp.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                             "date")}
                self._send(resp.status, data, keep)

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self.endpoint = self._start(Handler)


@pytest.fixture
def service_account(gs, tmp_path):
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import serialization
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "reader@quarry-test.iam.gserviceaccount.com"
    tokens = GoogleTokenServer(key.public_key(), email)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "quarry-test",
                                "private_key_id": "k1", "private_key": pem,
                                "client_email": email, "token_uri": tokens.url}))
    emulator = gs if "://" in gs else "http://" + gs
    front = BearerCheckingFront(tokens, emulator)
    yield tokens, front, str(path), pem
    front.close()
    tokens.close()


def test_a_ray_job_with_a_service_account_exchanges_its_token_once(gbucket, service_account,
                                                                   local_ray):
    tokens, front, path, _ = service_account
    for i in range(200):
        quarry.put(f"gs://{gbucket}/sa/{i:04d}", b"%d" % i)
    options = {"endpoint": front.endpoint, "credentials_path": path}
    job = quarry.submit(lambda obj: int(obj.read()), f"gs://{gbucket}/sa/",
                        storage_options=options, partitions_per_task=20)
    assert job.result() == list(range(200))
    assert tokens.requests == 1
    assert job.stats["credential_fetches"] == 1
    assert front.rejected == 0


def test_a_rejected_service_account_is_permission_denied_without_secrets(gbucket,
                                                                         service_account):
    tokens, front, path, pem = service_account
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong = json.loads(open(path).read())
    wrong["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with open(path, "w") as f:
        json.dump(wrong, f)
    with pytest.raises(quarry.PermissionDenied) as e:
        quarry.map(lambda obj: 1, f"gs://{gbucket}/",
                   storage_options={"endpoint": front.endpoint, "credentials_path": path})
    text = str(e.value) + repr(e.value)
    assert tokens.url in text and "reader@quarry-test" in text
    assert "PRIVATE KEY" not in text and wrong["private_key"][40:80] not in text
    assert tokens.requests == 1


# ---- faults between Quarry and the emulator ----

def test_reads_and_resumable_uploads_survive_resets_truncations_and_slowdowns(gbucket, gs):
    from fault_proxy import FaultProxy
    lines = [b"%d,row-%d,%s\n" % (i, i * 7, b"y" * (i % 40)) for i in range(100_000)]
    data = b"".join(lines)  # ~6 MiB
    uri = f"gs://{gbucket}/faults.csv"
    quarry.put(uri, data)
    attempts = {}
    firsts = [0]  # first attempts seen: the faults go round by them, whatever retries interleave
    lock = threading.Lock()

    def choose(n, method, path, headers):
        # A request's first attempt meets a fault by turns (uploads: a slowdown), its second at
        # most a slowdown, the rest none: within the policy's 5 attempts.
        key = (method, path, headers.get("Range"), headers.get("Content-Range"))
        with lock:
            attempt = attempts[key] = attempts.get(key, -1) + 1
            first = firsts[0] = firsts[0] + (attempt == 0)
        if method != "GET":
            return "slowdown" if attempt == 0 and n % 2 == 0 else None
        if attempt == 0:
            return ("reset", "truncate", "slowdown", None)[first % 4]
        return "slowdown" if attempt == 1 and n % 3 == 0 else None

    emulator = gs if "://" in gs else "http://" + gs
    proxy = FaultProxy(emulator, choose)
    try:
        options = {"gs": {"endpoint": proxy.endpoint}}
        parts = quarry.map(lambda obj: obj.read(), uri, chunk_size=300_000, newline=b"\n",
                           part_size=100_000, storage_options=options, executor="local")
        assert b"".join(parts) == data
        assert sum(p.count(b"\n") for p in parts) == len(lines)
        assert proxy.injected["reset"] and proxy.injected["truncate"]
        before = proxy.injected["slowdown"]
        big = os.urandom((5 << 20) + 99)
        quarry.put(f"gs://{gbucket}/up.bin", big,
                   storage_options={"endpoint": proxy.endpoint, "part_size": str(1 << 20),
                                    "multipart_threshold": str(1 << 20)})
        assert proxy.injected["slowdown"] > before  # chunk uploads were throttled, and retried
        assert hashlib.sha256(quarry.get(f"gs://{gbucket}/up.bin")).digest() == \
            hashlib.sha256(big).digest()
    finally:
        proxy.close()
