"""Authentication per job, counted at the server: token requests, connections opened and wall
time for N partitions (default 5,000 objects of 1 KiB) on Ray with 2 CPUs:

  (a) the blog's baseline: one Ray task per object, each builds its own client, which exchanges
      the IBM api key for an IAM token (as ibm_boto3 does per client) and GETs the object;
  (b) Quarry: quarry.map over cos://bucket/prefix/ with api_key: one exchange on the driver.

IBM IAM and COS are played by python/tests/iam_servers.py: a token endpoint of the tests' own and
a bearer-checking front for the local RGW, which count requests and connections.
Lithops 3.8 is not measured here: its IBM COS backend rewrites every endpoint to https, which the
stand-in front does not serve.

    python bench/auth_per_job.py [--count 5000] [--smoke]
"""

import argparse
import os
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python", "tests"))
from iam_servers import BearerFront, TokenServer  # noqa: E402

import quarry  # noqa: E402

API_KEY = "bench-api-key"


def baseline(ray, bucket, prefix, token_url, front_url):
    import boto3

    @ray.remote
    def fetch(key):
        body = urllib.parse.urlencode({"grant_type": "urn:ibm:params:oauth:grant-type:apikey",
                                       "apikey": API_KEY}).encode()
        import json
        with urllib.request.urlopen(token_url, body) as r:
            token = json.load(r)["access_token"]
        # The bearer token replaces the signature just before the request leaves.
        s3 = boto3.client("s3", endpoint_url=front_url, region_name="us-east-1",
                          aws_access_key_id="unused", aws_secret_access_key="unused")
        s3.meta.events.register("before-send.s3.*", lambda request, **kw: request.headers.
                                __setitem__("Authorization", f"Bearer {token}"))
        return len(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    keys = [o.key for o in quarry.ls(f"s3://{bucket}/{prefix}")]
    return ray.get([fetch.remote(k) for k in keys])


def with_quarry(ray, bucket, prefix, token_url, front_url):
    return quarry.map(lambda obj: len(obj.read()), f"cos://{bucket}/{prefix}", progress=False,
                      storage_options={"endpoint": front_url, "api_key": API_KEY,
                                       "iam_endpoint": token_url})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    count = 200 if args.smoke else args.count
    bucket, prefix = "quarry-bench-auth", f"n{count}/"
    quarry.create_bucket(f"s3://{bucket}")
    if sum(1 for _ in quarry.ls(f"s3://{bucket}/{prefix}")) != count:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: quarry.put(f"s3://{bucket}/{prefix}{i:06d}", b"x" * 1024),
                          range(count)))
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = []
    for name, fn in (("boto3 client per Ray task (blog baseline)", baseline),
                     ("Quarry quarry.map", with_quarry)):
        tokens = TokenServer(API_KEY)
        front = BearerFront(tokens, os.environ["AWS_ENDPOINT_URL"],
                            os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
        t = time.perf_counter()
        sizes = fn(ray, bucket, prefix, tokens.url, front.endpoint)
        secs = time.perf_counter() - t
        assert len(sizes) == count and sum(sizes) == 1024 * count
        rows.append((name, tokens.requests, front.connections, secs))
        print(f"{name}: {tokens.requests} token requests, {front.connections} connections, "
              f"{secs:.1f} s", flush=True)
        front.close()
        tokens.close()
    print(f"\n| {count} partitions, Ray 2 CPUs | token requests | connections | wall s |")
    print("|---|---|---|---|")
    for name, req, conns, secs in rows:
        print(f"| {name} | {req} | {conns} | {secs:.1f} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
