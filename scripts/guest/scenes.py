#!/usr/bin/python3
"""Test scenes for the lab guest, generated on the host at any resolution.

Owns: drawing the pictures the guest shows (photo-like landscape with smooth
gradients and grain, colour bars, text) and writing them as raw BGRX frames the
guest copies into /dev/fb0. Must not: depend on anything outside python3-pil,
or produce output that varies between runs (every scene is seeded from its
index and the resolution, so the cache stays valid and reruns are identical).

The pictures are NOT golden images: tests compare the client's snapshot with
QEMU's screendump, never with these files.

CLI: scenes.py WIDTH HEIGHT OUTDIR [--count N] [--png]
writes OUTDIR/scene-<k>.bgrx (and .png previews with --png).
"""
import argparse
import colorsys
import math
import os
import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

#: Number of distinct scenes packed into the guest by default.
DEFAULT_COUNT = 10

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)


def _font(size):
    """A TrueType font of about `size` pixels, or PIL's bitmap font if none is installed."""
    for d in _FONT_DIRS:
        p = os.path.join(d, "DejaVuSans-Bold.ttf")
        if os.path.exists(p):
            return ImageFont.truetype(p, size)
    return ImageFont.load_default()


def _hsv(h, s, v):
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))


def _vertical_gradient(w, h, top, bottom):
    """Smooth top-to-bottom blend between two RGB colours."""
    mask = Image.linear_gradient("L").resize((w, h), Image.BICUBIC)
    return Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), mask)


def _photo(w, h, k, rnd):
    """A landscape-like picture: sky gradient, sun glow, smooth hills, film grain."""
    hue = k / DEFAULT_COUNT
    img = _vertical_gradient(w, h, _hsv(hue + 0.55, 0.65, 0.35), _hsv(hue + 0.08, 0.55, 0.98))
    # Sun: radial glow blended in at a scene-dependent spot.
    glow_size = max(8, int(min(w, h) * (0.7 + 0.05 * (k % 4))))
    glow = Image.radial_gradient("L").resize((glow_size, glow_size), Image.BICUBIC)
    # Distance from the centre -> brightness falling smoothly to 0 at radius 128.
    glow = glow.point([int(255 * max(0.0, 1.0 - v / 128.0) ** 2) for v in range(256)])
    sun_layer = Image.new("L", (w, h), 0)
    sx = int(w * (0.15 + 0.7 * rnd.random())) - glow_size // 2
    sy = int(h * (0.05 + 0.35 * rnd.random())) - glow_size // 2
    sun_layer.paste(glow, (sx, sy))
    img = Image.composite(Image.new("RGB", (w, h), _hsv(hue + 0.12, 0.35, 1.0)), img, sun_layer)
    # Hills: a few ridges drawn small and scaled up so their edges are soft.
    sw, sh = max(4, w // 2), max(4, h // 2)
    for layer in range(3):
        ridge = Image.new("L", (sw, sh), 0)
        d = ImageDraw.Draw(ridge)
        base = sh * (0.55 + 0.13 * layer)
        pts = [(0, sh)]
        phase = rnd.random() * 6.28
        amp = sh * (0.10 - 0.02 * layer)
        for x in range(0, sw + 1, max(1, sw // 48)):
            y = base + amp * math.sin(phase + x * (0.05 + 0.03 * layer) * 64 / max(sw, 1))
            y += amp * 0.4 * math.sin(phase * 2 + x * 0.21 * 64 / max(sw, 1))
            pts.append((x, y))
        pts.append((sw, sh))
        d.polygon(pts, fill=255)
        ridge = ridge.resize((w, h), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1.5))
        col_top = _hsv(hue + 0.3 + 0.07 * layer, 0.55, 0.55 - 0.12 * layer)
        col_bot = _hsv(hue + 0.25 + 0.07 * layer, 0.7, 0.30 - 0.07 * layer)
        img = Image.composite(_vertical_gradient(w, h, col_top, col_bot), img, ridge)
    # Grain: coarse blurred texture plus fine per-pixel noise, different in each channel.
    chans = []
    for c in range(3):
        coarse = Image.effect_noise((max(1, w // 6), max(1, h // 6)), 16).resize((w, h), Image.BICUBIC)
        fine = Image.effect_noise((w, h), 3 + c)
        chans.append(ImageChops.add(coarse, fine, scale=2.0))
    grain = Image.merge("RGB", chans)
    return ImageChops.add(img, grain, scale=1.0, offset=-128)


def _bars(w, h, k):
    """Colour bars (SMPTE-like order), rotated through the bar list per scene."""
    cols = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
            (192, 0, 192), (192, 0, 0), (0, 0, 192), (16, 16, 16)]
    cols = cols[k % len(cols):] + cols[:k % len(cols)]
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    for i, c in enumerate(cols):
        d.rectangle([i * w // len(cols), 0, (i + 1) * w // len(cols) - 1, h * 2 // 3], fill=c)
    # A grey ramp and a pluge-like strip under the bars.
    for x in range(w):
        v = x * 255 // max(1, w - 1)
        if k % 2:
            v = 255 - v
        d.line([x, h * 2 // 3 + 1, x, h - 1], fill=(v, v, v))
    return img


def _fit_font(text, w, size):
    """The largest font not above `size` in which `text` fits within width w."""
    while size > 8:
        f = _font(size)
        if not hasattr(f, "getlength") or f.getlength(text) <= w:
            return f
        size = size * 9 // 10
    return _font(8)


def _text_panel(w, h, k, sw, sh):
    """A flat panel with crisp text, so lossless codecs see long runs and sharp edges."""
    bg = _hsv(k * 0.137, 0.25, 0.12 + 0.08 * (k % 3))
    fg = _hsv(k * 0.137 + 0.5, 0.2, 0.95)
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    lines = [
        ("barespice scene %d" % k, h // 5, fg),
        ("%dx%d  the quick brown fox jumps over the lazy dog" % (sw, sh), h // 10, fg),
        ("0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ !@#$%&*()", h // 10, _hsv(k * 0.137 + 0.2, 0.6, 0.9)),
    ]
    y = h // 12
    for text, size, colour in lines:
        d.text((w // 30, y), text, font=_fit_font(text, w - w // 15, max(10, size)), fill=colour)
        y += max(size, 10) * 5 // 4
    # A checkerboard strip of scene-dependent cell size.
    cell = max(2, 2 + k % 5)
    y0 = h * 3 // 4
    for y in range(y0, h, cell):
        for x in range(0, w, cell):
            if ((x // cell) + (y // cell)) % 2 == 0:
                d.rectangle([x, y, x + cell - 1, min(h - 1, y + cell - 1)], fill=fg)
    return img


def scene(k, w, h):
    """Scene number `k` as an RGB image of size w x h; layout and colours differ per k."""
    rnd = random.Random("barespice-scene-%d-%dx%d" % (k, w, h))
    # Photo-like area takes most of the screen; its side and share change per scene.
    pw = max(1, int(w * (0.55 + 0.05 * (k % 4))))
    th = max(1, h // 3)
    img = Image.new("RGB", (w, h))
    photo = _photo(pw, h, k, rnd)
    bars = _bars(w - pw, h - th, k) if w - pw > 0 else None
    panel = _text_panel(w - pw, th, k, w, h) if w - pw > 0 else None
    left_photo = k % 2 == 0
    px = 0 if left_photo else w - pw
    ox = pw if left_photo else 0
    img.paste(photo, (px, 0))
    if bars is not None:
        top_bars = (k // 2) % 2 == 0
        img.paste(bars, (ox, 0 if top_bars else th))
        img.paste(panel, (ox, h - th if top_bars else 0))
    # A title strip across the photo so text also sits on a busy background.
    d = ImageDraw.Draw(img)
    f = _font(max(10, h // 24))
    d.text((px + pw // 20, h - h // 12), "SCENE %d" % k, font=f, fill=(255, 255, 255),
           stroke_width=max(1, h // 400), stroke_fill=(0, 0, 0))
    return img


def write_scenes(w, h, outdir, count=DEFAULT_COUNT, png=False):
    """Write scene-<k>.bgrx (raw 32-bit B,G,R,X rows, stride 4*w) for k in 0..count-1."""
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for k in range(count):
        img = scene(k, w, h)
        p = os.path.join(outdir, "scene-%d.bgrx" % k)
        with open(p + ".tmp", "wb") as f:
            f.write(img.tobytes("raw", "BGRX"))
        os.replace(p + ".tmp", p)
        if png:
            img.save(os.path.join(outdir, "scene-%d.png" % k))
        paths.append(p)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("width", type=int)
    ap.add_argument("height", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT)
    ap.add_argument("--png", action="store_true", help="also write PNG previews")
    a = ap.parse_args()
    if a.width < 64 or a.height < 64:
        ap.error("resolution too small")
    write_scenes(a.width, a.height, a.outdir, a.count, a.png)


if __name__ == "__main__":
    main()
