"""Dominant colours of images stored in object storage, on Ray.

Every image is one partition: Quarry lists the bucket, authenticates once on the driver, and each
Ray task gets `obj` objects whose `data_stream` PIL reads directly. No client setup, no
pagination, no per-task authentication. The driver draws a contact sheet of the images (PNG):
each with its dominant colour as a swatch and its share, and a bar of the most frequent
dominant colours.

    python examples/extract_colors.py [s3://bucket/prefix/] [--count N] [--picture PATH]
    python examples/extract_colors.py --store gs        # or az: the same job on another cloud

With the default location (`<store>://quarry-images/photos/`, s3 unless `--store` says
otherwise), the bucket is created and filled with generated images (JPEG and PNG) when it holds
none. The job itself is the same whatever the scheme: only the URI changes.
"""

import argparse
import collections
import io
import math
import os
import random
import tempfile
import time

import quarry

THUMB = 80  # the thumbnails' longer side on the contact sheet, in pixels


def dominant_colors(obj, k=4):
    """The image's dominant colour (hex), its share, and the range of each channel."""
    from PIL import Image

    with Image.open(obj.data_stream) as im:
        im = im.convert("RGB")
        width, height = im.size
        small = im.resize((64, 64))
        thumb = im.copy()
        thumb.thumbnail((THUMB, THUMB))
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
        "thumb": (thumb.size, thumb.tobytes()),  # RGB, for the contact sheet
    }


Sheet = collections.namedtuple("Sheet", "path size thumbs swatches bar")
Sheet.__doc__ = """Where contact_sheet drew things: the PNG's path and (width, height); per result,
the box of its thumbnail and of its swatch; per bar segment, (colour, count, box). Boxes are
(x0, y0, x1, y1), inclusive."""


def _rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def contact_sheet(results, path, title="", columns=20, top=10):
    """Draws a PNG at `path` of the images of `results` (dominant_colors' dicts, in order): each
    image's thumbnail with a swatch of its dominant colour and its share below it, then a bar of
    the `top` most frequent dominant colours, each segment as wide as its count. Returns a
    Sheet."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    pad, swatch_w, swatch_h, margin, head = 6, 28, 14, 12, 26
    cell_w, cell_h = THUMB + 2 * pad, pad + THUMB + 4 + swatch_h + pad
    columns = max(1, min(columns, len(results)))
    rows = math.ceil(len(results) / columns)
    width = max(2 * margin + columns * cell_w, 480)
    bar_top = head + rows * cell_h + margin + 20
    bar_h = 36
    height = bar_top + bar_h + 4 + 14 + margin
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((margin, 6), title or f"dominant colours of {len(results)} images",
              fill=(0, 0, 0), font=font)

    thumbs, swatches = [], []
    for i, r in enumerate(results):
        x = margin + (i % columns) * cell_w + pad
        y = head + (i // columns) * cell_h + pad
        (tw, th), pixels = r["thumb"]
        # Centred in its THUMB x THUMB square.
        tx, ty = x + (THUMB - tw) // 2, y + (THUMB - th) // 2
        sheet.paste(Image.frombytes("RGB", (tw, th), pixels), (tx, ty))
        thumbs.append((tx, ty, tx + tw - 1, ty + th - 1))
        sy = y + THUMB + 4
        box = (x, sy, x + swatch_w - 1, sy + swatch_h - 1)
        draw.rectangle(box, fill=_rgb(r["dominant"]), outline=(0, 0, 0))
        swatches.append(box)
        draw.text((x + swatch_w + 4, sy + 1), f"{r['share']:.0%}", fill=(0, 0, 0), font=font)

    counts = collections.Counter(r["dominant"] for r in results).most_common(top)
    draw.text((margin, bar_top - 18), "most frequent dominant colours", fill=(0, 0, 0),
              font=font)
    bar, x, total, span = [], margin, sum(n for _, n in counts), width - 2 * margin
    for j, (colour, n) in enumerate(counts):
        # Segment edges are rounded from the running total, so the bar ends at its full span.
        x_end = margin + round(span * sum(c for _, c in counts[:j + 1]) / total)
        box = (x, bar_top, x_end - 1, bar_top + bar_h - 1)
        draw.rectangle(box, fill=_rgb(colour))
        bar.append((colour, n, box))
        label = f"{colour} ({n})" if x_end - x >= 80 else str(n)
        draw.text((x + 2, bar_top + bar_h + 3), label, fill=(0, 0, 0), font=font)
        x = x_end
    sheet.save(path, format="PNG")
    return Sheet(path, sheet.size, thumbs, swatches, bar)


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
    parser.add_argument("location", nargs="?",
                        help="where the images are (default: <store>://quarry-images/photos/)")
    parser.add_argument("--store", choices=quarry.schemes(), default=None,
                        help="the store of the default location (s3 unless given)")
    parser.add_argument("--count", type=int, default=300, help="images to generate if none")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--picture", default=os.path.join(tempfile.gettempdir(),
                                                          "quarry-dominant-colors.png"),
                        help="where to write the contact sheet (PNG)")
    args = parser.parse_args()

    if args.location is None:
        args.location = f"{args.store or 's3'}://quarry-images/photos/"
    elif args.store and not args.location.startswith(args.store + "://"):
        parser.error(f"--store {args.store} and the location {args.location} name different "
                     f"stores: give one of them")
    if args.location.endswith("://quarry-images/photos/"):
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
    t = time.perf_counter()
    sheet = contact_sheet(results, args.picture,
                          title=f"dominant colours of {len(results)} images in {args.location}")
    print(f"\npicture: {sheet.path} ({sheet.size[0]}x{sheet.size[1]}, "
          f"drawn in {time.perf_counter() - t:.1f}s)")


if __name__ == "__main__":
    main()
