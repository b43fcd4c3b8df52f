"""The examples run end to end against the local RGW (each starts its own local Ray)."""

import pathlib
import subprocess
import sys
import uuid

import quarry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*args):
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_extract_colors_on_generated_images(s3):
    prefix = f"s3://quarry-images-{uuid.uuid4().hex[:8]}/photos/"
    quarry.create_bucket(prefix)
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import extract_colors
        extract_colors.make_images(prefix, 24)
    finally:
        sys.path.pop(0)
    out = run("examples/extract_colors.py", prefix)
    assert "partitions=24" in out and "credential_fetches=0" in out
    assert out.count("#") >= 20
    quarry.delete(prefix, recursive=True)


def test_count_csv_on_ray(s3):
    uri = f"s3://quarry-csv-{uuid.uuid4().hex[:8]}/data.csv"
    quarry.create_bucket(uri)
    quarry.put(uri, b"".join(b"%d,row\n" % i for i in range(100000)) + b"last,row")
    out = run("examples/count_csv_ray.py", uri, "--chunk-mib", "1")
    assert out.startswith("100001 records in")
    quarry.delete(uri)
