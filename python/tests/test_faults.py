"""Faults between Quarry and the real RGW (fault_proxy.py): resets, truncated bodies and 503
SlowDown are retried and every byte and record is delivered exactly once; faults that do not
stop fail loudly, naming the endpoint."""

import hashlib
import os
import threading

import pytest

import quarry
from fault_proxy import FaultProxy


@pytest.fixture
def proxy_for():
    made = []

    def make(choose, **kw):
        p = FaultProxy(os.environ["AWS_ENDPOINT_URL"], choose, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def _options(proxy, **extra):
    return {"endpoint": proxy.endpoint, **extra}


def test_every_byte_and_record_once_through_resets_truncations_and_slowdowns(bucket, proxy_for):
    lines = [b"%d,row-%d,%s\n" % (i, i * 7, b"x" * (i % 50)) for i in range(200_000)]
    data = b"".join(lines)  # ~13 MiB
    uri = f"s3://{bucket}/faults.csv"
    quarry.put(uri, data)
    small = {f"s3://{bucket}/small/{i:02d}": os.urandom(3000 + i) for i in range(20)}
    for u, b in small.items():
        quarry.put(u, b)

    attempts = {}
    firsts = [0]  # first attempts seen: the faults go round by them, whatever retries interleave
    lock = threading.Lock()

    def choose(n, method, path, headers):
        if method != "GET":
            return None
        # A request's first attempt meets a fault by turns, its second at most a slowdown, the
        # rest none: within the policy's 5 attempts whatever the order requests arrive in.
        key = (path, headers.get("Range"))
        with lock:
            attempt = attempts[key] = attempts.get(key, -1) + 1
            first = firsts[0] = firsts[0] + (attempt == 0)
        if attempt == 0:
            return ("reset", "truncate", "slowdown", None)[first % 4]
        return "slowdown" if attempt == 1 and n % 3 == 0 else None

    proxy = proxy_for(choose)
    opts = {"storage_options": {"s3": _options(proxy)}}
    # Ranged reads of 256 KiB parts through small rings: a fault lands in the middle of a part,
    # after bytes went to the user.
    job = quarry.submit(lambda obj: obj.read(), uri, chunk_size=1 << 20, newline=b"\n",
                        part_size=256 << 10, read_window=64 << 10, executor="local", **opts)
    got = b"".join(job.result())
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert job.stats["retries"] > 0
    counts = quarry.map(lambda obj: obj.data_stream.count_records(), uri, chunk_size=1 << 20,
                        newline=b"\n", executor="local", **opts)
    assert sum(counts) == len(lines)
    # Whole small objects, by get and by map.
    for u, b in small.items():
        assert quarry.get(u, storage_options=_options(proxy)) == b
    read = quarry.map(lambda obj: (obj.uri, obj.read()), f"s3://{bucket}/small/",
                      executor="local", **opts)
    assert dict(read) == small
    assert proxy.injected["reset"] > 5 and proxy.injected["truncate"] > 5
    assert proxy.injected["slowdown"] > 5


def test_faults_that_do_not_stop_fail_loudly_naming_the_endpoint(bucket, proxy_for):
    uri = f"s3://{bucket}/k"
    quarry.put(uri, b"payload" * 1000)
    throttled = proxy_for(lambda n, method, path, headers: "slowdown")
    with pytest.raises(quarry.Unavailable) as e:
        quarry.get(uri, storage_options=_options(throttled, max_attempts="3"))
    assert "SlowDown" in str(e.value) and throttled.endpoint in str(e.value)
    assert throttled.requests == 3  # the policy's attempts, no more
    cut = proxy_for(lambda n, method, path, headers: "truncate" if method == "GET" else None)
    with pytest.raises(quarry.Unavailable) as e:
        quarry.get(uri, storage_options=_options(cut, max_attempts="2"))
    assert cut.endpoint.split("//")[1] in str(e.value)
    assert "gave up after 2 attempts" in str(e.value)
    assert cut.requests == 2


def test_a_stalled_reply_is_abandoned_after_read_timeout_and_retried(bucket, proxy_for):
    import time

    data = os.urandom(3 << 20)
    uri = f"s3://{bucket}/stalled"
    quarry.put(uri, data)
    seen = set()

    def choose(n, method, path, headers):
        key = (method, path, headers.get("Range"))
        first = key not in seen
        seen.add(key)
        return "stall" if method == "GET" and first else None

    proxy = proxy_for(choose, stall_s=8)
    opts = {"storage_options": {"s3": _options(proxy, read_timeout_ms="600")}}
    t = time.perf_counter()
    # The in-place path (ranged parts) and curl's transfer (receive_in_place off) alike.
    got = quarry.map(lambda obj: obj.read(), uri, chunk_size=1 << 20, executor="local", **opts)
    assert b"".join(got) == data
    s3 = {**_options(proxy, read_timeout_ms="600"), "receive_in_place": "false"}
    seen.clear()
    assert quarry.get(uri, storage_options=s3) == data
    assert time.perf_counter() - t < 8  # gave up on each stall well before it ended
    assert proxy.injected["stall"] >= 4
