"""One authentication per job: IBM IAM tokens fetched once on the driver and shipped to Ray
tasks, refreshed at most once per process when they near expiry; STS on the real RGW; secrets
never printed."""

import glob
import os
import time
import uuid

import pytest

import quarry
from iam_servers import BearerFront, TokenServer

pytestmark = pytest.mark.usefixtures("local_ray")

GOOD_KEY = "QSECRET-apikey-7f3a9c21d4"


@pytest.fixture(scope="module")
def iam(s3):
    tokens = TokenServer(GOOD_KEY, ttl_seconds=3600)
    front = BearerFront(tokens, s3, os.environ["AWS_ACCESS_KEY_ID"],
                        os.environ["AWS_SECRET_ACCESS_KEY"])
    yield tokens, front
    front.close()
    tokens.close()


def cos_options(tokens, front, **extra):
    return {"endpoint": front.endpoint, "api_key": GOOD_KEY, "iam_endpoint": tokens.url, **extra}


def fill(bucket, n, prefix="o/"):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: quarry.put(f"s3://{bucket}/{prefix}{i:05d}", b"%d" % i), range(n)))


def test_a_job_of_1000_partitions_makes_one_token_request(iam, bucket):
    tokens, front = iam
    fill(bucket, 1000)
    before_tokens, before_conns = tokens.requests, front.connections
    job = quarry.submit(lambda obj: int(obj.read()), f"cos://{bucket}/o/",
                        storage_options=cos_options(tokens, front), partitions_per_task=50)
    assert job.result() == list(range(1000))
    assert tokens.requests - before_tokens == 1
    assert job.stats["credential_fetches"] == 1
    assert job.stats["tasks"] == 20
    # 2 Ray worker processes, each reading one partition and opening up to 4 ahead (open_ahead)
    # over kept-alive connections, plus the driver's listing.
    assert front.connections - before_conns <= 2 * (1 + 4) + 2, front.connections - before_conns


def test_short_lived_token_is_refreshed_at_most_once_per_process(iam, bucket):
    _, front_long = iam
    tokens = TokenServer(GOOD_KEY, ttl_seconds=6)
    front = BearerFront(tokens, front_long.tokens and os.environ["AWS_ENDPOINT_URL"],
                        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    try:
        fill(bucket, 120, "slow/")

        def slow(obj):
            time.sleep(0.07)
            return os.getpid(), len(obj.read())

        job = quarry.submit(slow, f"cos://{bucket}/slow/", partitions_per_task=6,
                            storage_options=cos_options(tokens, front, token_refresh_margin="3"))
        results = job.result()
        pids = {pid for pid, _ in results}
        assert len(results) == 120
        assert job.stats["wall_seconds"] > 3.5, "the job must outlive the token's useful life"
        # One exchange on the driver; then at most one refresh in each worker process.
        assert 2 <= tokens.requests <= 1 + len(pids), (tokens.requests, pids)
    finally:
        front.close()
        tokens.close()


def test_wrong_api_key_fails_fast_naming_the_endpoint(iam, bucket):
    tokens, front = iam
    t = time.time()
    with pytest.raises(quarry.PermissionDenied) as e:
        quarry.map(lambda obj: 1, f"cos://{bucket}/",
                   storage_options={"endpoint": front.endpoint, "api_key": "QSECRET-wrong-key",
                                    "iam_endpoint": tokens.url})
    assert time.time() - t < 5
    assert tokens.url in str(e.value) and "api key" in str(e.value)
    assert "QSECRET-wrong-key" not in str(e.value)


def test_sts_assume_role_on_rgw(bucket):
    role = os.environ.get("QUARRY_TEST_STS_ROLE_ARN")
    if not role:
        pytest.skip("no STS role configured")
    fill(bucket, 30, "sts/")
    job = quarry.submit(lambda obj: int(obj.read()), f"s3://{bucket}/sts/",
                        storage_options={"role_arn": role, "duration_seconds": "900"})
    assert job.result() == list(range(30))
    assert job.stats["credential_fetches"] == 1


def test_secrets_never_leak(iam, bucket, capfd):
    tokens, front = iam
    fill(bucket, 40, "leak/")
    options = cos_options(tokens, front)
    plan = quarry.plan(f"cos://{bucket}/leak/", chunk_size=1, storage_options=options)
    parts = list(plan)
    job = quarry.submit(lambda obj: repr(obj) + obj.read().decode(), plan)
    outputs = job.result()
    texts = [repr(plan), str(plan), repr(plan.storage_options), repr(parts[0]), str(parts[0]),
             repr(job), str(job.stats), repr(job.stats), *outputs]
    for bad in ({**options, "api_key": "QSECRET-wrong-key"},
                {"endpoint": os.environ["AWS_ENDPOINT_URL"],
                 "secret_access_key": "QSECRET-s3-secret-value"}):
        try:
            quarry.map(lambda obj: 1, f"cos://{bucket}/leak/", storage_options=bad)
        except quarry.QuarryError as e:
            texts.append(str(e))
            texts.append(repr(e))
    captured = capfd.readouterr()
    texts += [captured.out, captured.err]
    for log in glob.glob("/tmp/ray/session_latest/logs/*"):
        try:
            with open(log, errors="replace") as f:
                texts.append(f.read())
        except OSError:
            pass
    issued = list(tokens.issued)
    for text in texts:
        assert "QSECRET" not in text
        assert os.environ["AWS_SECRET_ACCESS_KEY"] not in text
        for token in issued:
            assert token not in text


def test_rejected_session_says_which_credential_and_how_to_refresh(iam, bucket):
    _, front_long = iam
    # Tokens that are dead on arrival: the front answers ExpiredToken to every one.
    tokens = TokenServer(GOOD_KEY, ttl_seconds=0)
    front = BearerFront(tokens, os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_ACCESS_KEY_ID"],
                        os.environ["AWS_SECRET_ACCESS_KEY"])
    try:
        quarry.put(f"s3://{bucket}/x", b"x")
        with pytest.raises(quarry.PermissionDenied) as e:
            quarry.get(f"cos://{bucket}/x", storage_options={
                "endpoint": front.endpoint, "api_key": GOOD_KEY, "iam_endpoint": tokens.url,
                "token_refresh_margin": "0"})
        message = str(e.value)
        assert "ExpiredToken" in message and tokens.url in message and "IBM IAM" in message
        assert "api_key" in message or "role_arn" in message  # how to get fresh tokens
        assert GOOD_KEY not in message
    finally:
        front.close()
        tokens.close()


def test_get_session_token_flow(bucket):
    from iam_servers import SessionTokenServer
    sts = SessionTokenServer(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    try:
        fill(bucket, 10, "gst/")
        job = quarry.submit(lambda obj: int(obj.read()), f"s3://{bucket}/gst/",
                            storage_options={"use_session_token": "true",
                                             "sts_endpoint": sts.url, "duration_seconds": "900"})
        assert job.result() == list(range(10))
        assert len(sts.requests) == 1 and job.stats["credential_fetches"] == 1
        form, authorization = sts.requests[0]
        assert form["Action"] == ["GetSessionToken"] and form["DurationSeconds"] == ["900"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=" +
                                        os.environ["AWS_ACCESS_KEY_ID"])
        assert "/sts/aws4_request" in authorization
    finally:
        sts.close()
