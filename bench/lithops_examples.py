"""Runs Lithops' own examples through quarry.lithops, each unchanged but for its import line
(`import lithops` becomes `import quarry.lithops as lithops`), against the local RGW.

    python bench/lithops_examples.py /path/to/a/lithops/checkout

The data examples name `cos://lithops-sample-data` (and `lithops-sample-data` through the
storage argument): the script makes that bucket with a few text objects, points the cos scheme
at the RGW of `scripts/test-servers env` with its keys, and deletes the bucket's objects at the
end. Prints one line per example: ran, or failed with the last line of its error.
"""

import os
import pathlib
import subprocess
import sys
import tempfile

import quarry

EXAMPLES = ["call_async.py", "map.py", "multiple_args_map.py", "multiple_args_call_async.py",
            "map_reduce.py", "map_cos_prefix.py", "map_reduce_cos_bucket.py",
            "map_reduce_cos_key.py", "storage_arg.py"]
TEXT = b"one two three\nfour five six\nseven eight nine ten\n"


def main():
    checkout = pathlib.Path(sys.argv[1])
    env = dict(os.environ)
    env["QUARRY_COS_ENDPOINT"] = env["AWS_ENDPOINT_URL"]
    env["QUARRY_COS_ACCESS_KEY_ID"] = env["AWS_ACCESS_KEY_ID"]
    env["QUARRY_COS_SECRET_ACCESS_KEY"] = env["AWS_SECRET_ACCESS_KEY"]
    bucket = "s3://lithops-sample-data"
    quarry.create_bucket(bucket)
    for key in ("obj1.txt", "obj2.txt", "obj3.txt", "test/a.txt", "test/b.txt"):
        quarry.put(f"{bucket}/{key}", TEXT * 2000)
    try:
        for name in EXAMPLES:
            source = (checkout / "examples" / name).read_text()
            changed = source.replace("import lithops\n", "import quarry.lithops as lithops\n", 1)
            with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
                f.write(changed)
                f.flush()
                run = subprocess.run([sys.executable, f.name], env=env, capture_output=True,
                                     text=True, timeout=300)
            if run.returncode == 0:
                last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
                print(f"| {name} | ran | {last[:70]} |")
            else:
                print(f"| {name} | failed | {run.stderr.strip().splitlines()[-1][:90]} |")
    finally:
        quarry.delete(f"{bucket}/", recursive=True)


if __name__ == "__main__":
    main()
