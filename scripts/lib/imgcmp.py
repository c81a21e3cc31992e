#!/usr/bin/python3
"""Compare pictures for the end-to-end tests (importable and CLI).

Owns: pixel-exact RGB comparison (alpha ignored) with a mismatch report,
PSNR, and finding where one picture sits inside a bigger one.
Must not: produce expected pictures itself; the expected side is always a
QEMU screendump or a reference client's output.

CLI (exit 0 = match, 1 = mismatch / not found, 2 = usage or unreadable file):
  imgcmp.py A B [--crop X,Y,W,H] [--crop-b X,Y,W,H] [--show N]
        pixel-exact; --crop cuts the box from A (and from B unless --crop-b is given)
  imgcmp.py A B --psnr [--min-db D]
        PSNR in dB over RGB ("inf" when equal); fails below D if given
  imgcmp.py find A B
        where A appears exactly inside B; prints "found at X,Y" (first hit)
"""
import math
import sys

from PIL import Image


def load(path, crop=None):
    """RGB image from any PIL-readable file (PNG, PPM...), optionally cropped to (x, y, w, h)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if crop:
            x, y, w, h = crop
            if x < 0 or y < 0 or x + w > im.width or y + h > im.height:
                raise ValueError("crop box %s is outside %s (%dx%d)" % (crop, path, im.width, im.height))
            im = im.crop((x, y, x + w, y + h))
        return im


def compare(a, b, show=5):
    """Pixel-exact comparison of two RGB images.

    Returns a dict: equal (bool), size, mismatches (count), bbox (x0, y0, x1, y1 inclusive)
    and first (list of (x, y, a_rgb, b_rgb))."""
    if a.size != b.size:
        return {"equal": False, "size_a": a.size, "size_b": b.size, "mismatches": None}
    w, h = a.size
    da, db = a.tobytes(), b.tobytes()
    if da == db:
        return {"equal": True, "size": a.size, "mismatches": 0}
    row = w * 3
    count, first = 0, []
    x0, y0, x1, y1 = w, h, -1, -1
    for y in range(h):
        ra, rb = da[y * row:(y + 1) * row], db[y * row:(y + 1) * row]
        if ra == rb:
            continue
        for x in range(w):
            pa, pb = ra[x * 3:x * 3 + 3], rb[x * 3:x * 3 + 3]
            if pa != pb:
                count += 1
                x0, x1 = min(x0, x), max(x1, x)
                y0, y1 = min(y0, y), max(y1, y)
                if len(first) < show:
                    first.append((x, y, tuple(pa), tuple(pb)))
    return {"equal": False, "size": a.size, "mismatches": count, "bbox": (x0, y0, x1, y1), "first": first}


def psnr(a, b):
    """PSNR in dB over the RGB channels of two equally sized images (inf when identical)."""
    if a.size != b.size:
        raise ValueError("sizes differ: %s vs %s" % (a.size, b.size))
    da, db = a.tobytes(), b.tobytes()
    if da == db:
        return math.inf
    # Histogram of absolute differences keeps this fast without numpy.
    from PIL import ImageChops
    diff = ImageChops.difference(a, b)
    hist = diff.histogram()
    sq = 0
    for c in range(3):
        for v, n in enumerate(hist[c * 256:(c + 1) * 256]):
            sq += n * v * v
    mse = sq / (a.width * a.height * 3)
    return 10 * math.log10(255 * 255 / mse)


def find(small, big):
    """(x, y) of the first exact occurrence of `small` inside `big`, or None."""
    sw, sh = small.size
    bw, bh = big.size
    if sw > bw or sh > bh:
        return None
    ds, dbig = small.tobytes(), big.tobytes()
    srow, brow = sw * 3, bw * 3
    rows = [ds[y * srow:(y + 1) * srow] for y in range(sh)]
    # Search with the most varied row of `small` so uniform rows don't give many false starts.
    key = max(range(sh), key=lambda y: len(set(rows[y][i:i + 3] for i in range(0, srow, 3 * max(1, sw // 64)))))
    for by in range(key, bh - (sh - 1 - key)):
        line = dbig[by * brow:(by + 1) * brow]
        pos = line.find(rows[key])
        while pos != -1:
            if pos % 3 == 0 and pos + srow <= brow:
                x, y = pos // 3, by - key
                if all(dbig[(y + r) * brow + pos:(y + r) * brow + pos + srow] == rows[r] for r in range(sh)):
                    return x, y
            pos = line.find(rows[key], pos + 1)
    return None


def _box(s):
    parts = [int(v) for v in s.split(",")]
    if len(parts) != 4 or parts[2] <= 0 or parts[3] <= 0:
        raise ValueError("box wants X,Y,W,H, got %r" % s)
    return tuple(parts)


def main(argv):
    args = argv[1:]
    try:
        if args and args[0] == "find":
            if len(args) != 3:
                raise ValueError("find wants A B")
            hit = find(load(args[1]), load(args[2]))
            if hit is None:
                print("not found: %s does not appear in %s" % (args[1], args[2]))
                return 1
            print("found at %d,%d" % hit)
            return 0
        pos, crop, crop_b, mode_psnr, min_db, show = [], None, None, False, None, 5
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--crop":
                i += 1
                crop = _box(args[i])
            elif a == "--crop-b":
                i += 1
                crop_b = _box(args[i])
            elif a == "--psnr":
                mode_psnr = True
            elif a == "--min-db":
                i += 1
                min_db = float(args[i])
            elif a == "--show":
                i += 1
                show = int(args[i])
            elif a.startswith("-"):
                raise ValueError("unknown option %s" % a)
            else:
                pos.append(a)
            i += 1
        if len(pos) != 2:
            raise ValueError("want two pictures")
        a = load(pos[0], crop)
        b = load(pos[1], crop_b or crop)
        if mode_psnr:
            db = psnr(a, b)
            print("psnr %s dB" % ("inf" if db == math.inf else "%.2f" % db))
            return 1 if (min_db is not None and db < min_db) else 0
        r = compare(a, b, show)
        if r["equal"]:
            print("identical %dx%d" % r["size"])
            return 0
        if r["mismatches"] is None:
            print("size differs: %dx%d vs %dx%d" % (r["size_a"] + r["size_b"]))
            return 1
        w, h = r["size"]
        print("%d of %d pixels differ; bbox x %d..%d y %d..%d" %
              ((r["mismatches"], w * h) + (r["bbox"][0], r["bbox"][2], r["bbox"][1], r["bbox"][3])))
        for x, y, pa, pb in r["first"]:
            print("  (%d,%d) %s vs %s" % (x, y, pa, pb))
        return 1
    except (ValueError, OSError, IndexError) as e:
        print("imgcmp: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
