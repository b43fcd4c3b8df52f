"""Dominant colours of images stored in object storage, on Ray.

Every image is one partition: Quarry lists the bucket, authenticates once on the driver, and each
Ray task gets `obj` objects whose `data_stream` PIL reads directly. No client setup, no
pagination, no per-task authentication.

    python examples/extract_colors.py [s3://bucket/prefix/] [--count N]

With the default location, the bucket is created and filled with generated images (JPEG and
PNG) when it holds none.
"""

import argparse
import io
import random
import time

import quarry


def dominant_colors(obj, k=4):
    """The image's dominant colour (hex), its share, and the range of each channel."""
    from PIL import Image

    with Image.open(obj.data_stream) as im:
        im = im.convert("RGB")
        width, height = im.size
        small = im.resize((64, 64))
    quantized = small.quantize(colors=k, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette()[: 3 * k]
    counts = sorted(quantized.getcolors(), reverse=True)  # (count, palette index)
    count, index = counts[0]
    r, g, b = palette[3 * index: 3 * index + 3]
    bands = small.getextrema()  # ((min, max) per channel)
    return {
        "key": obj.key,
        "size": f"{width}x{height}",
        "dominant": f"#{r:02x}{g:02x}{b:02x}",
        "share": count / (64 * 64),
        "range": "/".join(f"{lo}-{hi}" for lo, hi in bands),
    }


def make_images(prefix, count):
    """Real JPEG and PNG images: gradients with shapes of a chosen dominant colour."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image, ImageDraw

    rng = random.Random(42)
    palette = [(220, 40, 40), (40, 160, 60), (30, 90, 200), (240, 200, 40), (140, 60, 170),
               (250, 130, 30), (20, 20, 20), (230, 230, 230)]

    def one(i):
        local = random.Random(i)
        main = palette[i % len(palette)]
        w, h = local.choice([(320, 240), (640, 480), (400, 400)])
        im = Image.new("RGB", (w, h), main)
        draw = ImageDraw.Draw(im)
        for _ in range(local.randint(3, 12)):
            c = tuple(max(0, min(255, v + local.randint(-90, 90))) for v in main)
            x0, y0 = local.randint(0, w - 20), local.randint(0, h - 20)
            draw.ellipse([x0, y0, x0 + local.randint(10, w // 3), y0 + local.randint(10, h // 3)],
                         fill=c)
        buf = io.BytesIO()
        fmt = "JPEG" if i % 3 else "PNG"
        im.save(buf, format=fmt, quality=85)
        ext = "jpg" if fmt == "JPEG" else "png"
        quarry.put(f"{prefix}img-{i:04d}.{ext}", buf.getvalue())

    rng.random()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("location", nargs="?", default="s3://quarry-images/photos/")
    parser.add_argument("--count", type=int, default=300, help="images to generate if none")
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()

    if args.location == parser.get_default("location"):
        quarry.create_bucket(args.location)
        if not any(True for _ in quarry.ls(args.location)):
            t = time.perf_counter()
            make_images(args.location, args.count)
            print(f"uploaded {args.count} generated images to {args.location} "
                  f"in {time.perf_counter() - t:.1f}s")

    import ray
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    job = quarry.submit(dominant_colors, args.location, progress=None)
    results = job.result()

    print(f"\n{'image':<22} {'size':>9}  {'dominant':<9} {'share':>6}  channel ranges (R/G/B)")
    for r in results[:20]:
        print(f"{r['key'][-22:]:<22} {r['size']:>9}  {r['dominant']:<9} {r['share']:>6.0%}  "
              f"{r['range']}")
    if len(results) > 20:
        print(f"... and {len(results) - 20} more")
    by_colour = {}
    for r in results:
        by_colour[r["dominant"]] = by_colour.get(r["dominant"], 0) + 1
    top = sorted(by_colour.items(), key=lambda kv: -kv[1])[:5]
    print("\nmost frequent dominant colours:", ", ".join(f"{c} ({n})" for c, n in top))
    stats = job.stats
    print("\njob stats:", ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in stats.items()))
    print(f"{len(results) / stats['wall_seconds']:.0f} images/s on {args.num_cpus} Ray CPUs")
    ray.shutdown()


if __name__ == "__main__":
    main()
