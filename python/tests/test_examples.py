"""The examples run end to end against the local RGW (each starts its own local Ray)."""

import collections
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

import quarry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*args):
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _extract_colors():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import extract_colors
    finally:
        sys.path.pop(0)
    return extract_colors


def test_extract_colors_on_generated_images(s3, tmp_path):
    prefix = f"s3://quarry-images-{uuid.uuid4().hex[:8]}/photos/"
    quarry.create_bucket(prefix)
    _extract_colors().make_images(prefix, 24)
    picture = tmp_path / "sheet.png"
    out = run("examples/extract_colors.py", prefix, "--picture", str(picture))
    assert "partitions=24" in out and "credential_fetches=0" in out
    assert out.count("#") >= 20
    assert f"picture: {picture} (" in out and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    quarry.delete(prefix, recursive=True)


@pytest.mark.parametrize("store", ["gs", "az"])
def test_the_demo_runs_on_gs_and_az_by_naming_the_store(store, tmp_path):
    # `scripts/demo --store gs|az` passes the flag here: the default location moves to that
    # store, is filled there, and the same job runs on Ray with the emulator's credential.
    needs = {"gs": "QUARRY_TEST_GS", "az": "QUARRY_TEST_AZ"}[store]
    if os.environ.get(needs) != "1":
        pytest.skip(f"needs the {store} emulator: scripts/test-servers start && "
                    "eval \"$(scripts/test-servers env)\"")
    location = f"{store}://quarry-images/photos/"
    try:
        quarry.delete(location, recursive=True)  # the images of a run before this one
    except quarry.NotFound:
        pass  # no bucket yet: the demo makes it
    picture = tmp_path / "sheet.png"
    out = run("examples/extract_colors.py", "--store", store, "--count", "12",
              "--picture", str(picture))
    assert f"uploaded 12 generated images to {location}" in out
    assert "partitions=12" in out and "credential_fetches=0" in out
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(quarry.ls(location))) == 12
    quarry.delete(location, recursive=True)


def test_the_demo_refuses_a_store_and_a_location_that_disagree():
    out = subprocess.run([sys.executable, "examples/extract_colors.py", "s3://b/p/", "--store",
                          "gs"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "--store gs" in out.stderr and "s3://b/p/" in out.stderr


def test_contact_sheet_shows_each_image_with_its_dominant_colour(tmp_path):
    from PIL import Image

    extract_colors = _extract_colors()
    prefix = f"mem://sheet-{uuid.uuid4().hex[:8]}/photos/"
    quarry.create_bucket(prefix)
    extract_colors.make_images(prefix, 10)
    results = quarry.map(extract_colors.dominant_colors, prefix, executor="local")
    # The images' main colours (make_images cycles through its palette) are what was found.
    palette = [(220, 40, 40), (40, 160, 60), (30, 90, 200), (240, 200, 40), (140, 60, 170),
               (250, 130, 30), (20, 20, 20), (230, 230, 230)]
    for i, r in enumerate(results):
        found = extract_colors._rgb(r["dominant"])
        assert max(abs(a - b) for a, b in zip(found, palette[i % 8])) <= 40, (r["key"], found)

    sheet = extract_colors.contact_sheet(results, str(tmp_path / "s.png"), columns=4)
    with Image.open(sheet.path) as im:
        assert im.format == "PNG" and im.size == sheet.size and im.mode == "RGB"
        im.load()
    width, height = im.size
    assert len(sheet.swatches) == len(sheet.thumbs) == 10
    # 4 columns: three rows of cells, the bar below them, all inside the picture.
    assert len({box[1] for box in sheet.swatches}) == 3
    assert sheet.swatches[0][1] == sheet.swatches[3][1] < sheet.swatches[4][1]
    assert sheet.bar[0][2][1] > sheet.swatches[-1][3] and sheet.bar[0][2][3] < height

    def centre(box):
        return ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)

    for r, swatch, thumb in zip(results, sheet.swatches, sheet.thumbs):
        assert im.getpixel(centre(swatch)) == extract_colors._rgb(r["dominant"])
        assert im.getpixel(swatch[:2]) == (0, 0, 0)  # its outline
        (tw, th), pixels = r["thumb"]
        assert (thumb[2] - thumb[0] + 1, thumb[3] - thumb[1] + 1) == (tw, th)
        assert max(tw, th) == extract_colors.THUMB
        original = Image.frombytes("RGB", (tw, th), pixels)
        for x, y in [(0, 0), (tw // 2, th // 2), (tw - 1, th - 1)]:
            assert im.getpixel((thumb[0] + x, thumb[1] + y)) == original.getpixel((x, y))

    # The bar: the most frequent colours first, each as wide as its count, edge to edge.
    counts = collections.Counter(r["dominant"] for r in results)
    assert [(c, n) for c, n, _ in sheet.bar] == counts.most_common(10)
    span = sheet.bar[-1][2][2] - sheet.bar[0][2][0] + 1
    total = sum(n for _, n, _ in sheet.bar)
    for colour, n, box in sheet.bar:
        assert im.getpixel(centre(box)) == extract_colors._rgb(colour)
        assert abs((box[2] - box[0] + 1) - span * n / total) <= 1
    assert all(a[2][2] + 1 == b[2][0] for a, b in zip(sheet.bar, sheet.bar[1:]))
    quarry.delete(prefix, recursive=True)


def test_count_csv_on_ray(s3):
    uri = f"s3://quarry-csv-{uuid.uuid4().hex[:8]}/data.csv"
    quarry.create_bucket(uri)
    quarry.put(uri, b"".join(b"%d,row\n" % i for i in range(100000)) + b"last,row")
    out = run("examples/count_csv_ray.py", uri, "--chunk-mib", "1")
    assert out.startswith("100001 records in")
    quarry.delete(uri)
