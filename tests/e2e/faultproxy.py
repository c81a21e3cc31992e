#!/usr/bin/env python3
"""A TCP proxy between a SPICE client and the lab server that injects faults,
and a scripted hostile SPICE server, for tests/e2e/faults.sh (issue 12).

Listens on 127.0.0.1:PORT and relays every connection to 127.0.0.1:UPSTREAM.
It follows the server-to-client stream of each channel (link reply, link
result, then mini-header messages: type u16, size u32, body) so a fault lands
where it is meant to. Commands come one line at a time on the UNIX socket
CONTROL; the answer is one line:

  truncate     at the next display-channel message, forward its header and half
               its body, then close that connection (the stream ends mid-message);
               answers "fired truncate ..." once done (send it, then make the
               screen change)
  corrupt      the next display-channel message's size field becomes 0xfffffff0
               (a length no message has); the rest is forwarded unchanged;
               answers "fired corrupt ..."
  stall S      nothing is forwarded either way for S seconds (connections stay
               open, bytes wait); answers "released ..." after S seconds
  hostile A    the next session (its main and display channels) is served by a
               script instead of the lab server: a real link handshake (an RSA
               key from openssl; the ticket is read, not checked), MAIN INIT +
               CHANNELS_LIST (display 0), then attack A on the display channel
               (A: oversized-lz, surface-flood, endless-length, garbage,
               drip: a valid 64x64 SURFACE_CREATE, then a valid 216-byte NOTIFY
               one byte per 500 ms, a slow drip the client must end;
               cache-flood: valid 1024x1024 1-bit bitmaps (128 KiB each)
               flagged CACHE_ME and never invalidated, one more than the
               pixmap_cache_size the client's DISPLAY_INIT announced);
               answers "armed"; later sessions are relayed again
  cut          close every connection now; answers "cut N"
Every event is logged on stdout, one line each.

usage: faultproxy.py --port N --upstream N --control PATH
"""
import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LOCK = threading.Lock()
CONNS = []  # open sockets (client and upstream sides)
FLOWING = threading.Event()
FLOWING.set()
ARMED = {"fault": None, "done": None, "text": ""}
HOSTILE = {"attack": None, "main_seen": False}

# SPICE constants (spice/protocol.h, spice/enums.h).
SPICE_CHANNEL_MAIN = 1
SPICE_CHANNEL_DISPLAY = 2
SPICE_MSG_NOTIFY = 7
SPICE_MSG_MAIN_INIT = 103
SPICE_MSG_MAIN_CHANNELS_LIST = 104
SPICE_MSG_DISPLAY_DRAW_COPY = 304
SPICE_MSG_DISPLAY_SURFACE_CREATE = 314
SPICE_MSGC_DISPLAY_INIT = 101
SPICE_IMAGE_TYPE_BITMAP = 0
SPICE_IMAGE_TYPE_LZ_RGB = 101
SPICE_IMAGE_FLAGS_CACHE_ME = 1
SPICE_BITMAP_FMT_1BIT_BE = 2
SPICE_BITMAP_FLAGS_TOP_DOWN = 4
SPICE_ROPD_OP_PUT = 8


def log(text):
    print("%.3f %s" % (time.time(), text), flush=True)


def now_ms():
    return int(time.time() * 1000)


def track(s):
    with LOCK:
        CONNS.append(s)


def close(s):
    with LOCK:
        if s in CONNS:
            CONNS.remove(s)
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


def cut_all():
    with LOCK:
        conns = list(CONNS)
    for s in conns:
        close(s)
    return len(conns)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise OSError("closed")
        buf += d
    return buf


def read_link(s):
    """The client's SpiceLinkHeader + SpiceLinkMess: (raw bytes, channel type)."""
    hdr = recv_exact(s, 16)
    if hdr[:4] != b"REDQ":
        raise OSError("not a SPICE link")
    size = struct.unpack_from("<I", hdr, 12)[0]
    if size > 4096:
        raise OSError("link message too large")
    mess = recv_exact(s, size)
    return hdr + mess, mess[4]


class S2C:
    """Walks the server-to-client stream: link reply, link result, messages."""

    def __init__(self):
        self.phase = "hdr"
        self.need = 16
        self.buf = b""

    def boundaries(self, data):
        """Offsets in data where a mini-header message starts, with its body size."""
        out = []
        i = 0
        while i < len(data):
            if self.phase == "body":
                take = min(self.need, len(data) - i)
                i += take
                self.need -= take
                if self.need == 0:
                    self.phase, self.need = "msg", 6
                continue
            take = min(self.need - len(self.buf), len(data) - i)
            start = i - len(self.buf)
            self.buf += data[i:i + take]
            i += take
            if len(self.buf) < self.need:
                continue
            b, self.buf = self.buf, b""
            if self.phase == "hdr":
                self.phase, self.need = "reply", struct.unpack_from("<I", b, 12)[0]
            elif self.phase == "reply":
                self.phase, self.need = "result", 4
            elif self.phase == "result":
                self.phase, self.need = "msg", 6
            elif self.phase == "msg":
                size = struct.unpack_from("<I", b, 2)[0]
                if start >= 0:
                    out.append((start, size))
                self.phase, self.need = ("body", size) if size else ("msg", 6)
        return out


def fire(kind, text):
    ARMED["text"] = "fired %s at %d ms: %s" % (kind, now_ms(), text)
    ARMED["fault"] = None
    log(ARMED["text"])
    ARMED["done"].set()


def relay_s2c(up, cl, channel):
    walk = S2C()
    try:
        while True:
            data = up.recv(65536)
            if not data:
                break
            FLOWING.wait()
            kind = ARMED["fault"] if channel == SPICE_CHANNEL_DISPLAY else None
            marks = walk.boundaries(data) if channel == SPICE_CHANNEL_DISPLAY else []
            if kind and marks:
                at, size = marks[0]
                if kind == "corrupt":
                    data = data[:at + 2] + struct.pack("<I", 0xFFFFFFF0) + data[at + 6:]
                    cl.sendall(data)
                    typ = struct.unpack_from("<H", data, at)[0]
                    fire("corrupt", "display message type %d size %d -> 0xfffffff0" % (typ, size))
                    continue
                if kind == "truncate":
                    end = min(len(data), at + 6 + size // 2)
                    cl.sendall(data[:end])
                    typ = struct.unpack_from("<H", data, at)[0]
                    close(up)
                    close(cl)
                    fire("truncate", "display message type %d cut after %d of %d body bytes, display connection closed"
                         % (typ, end - at - 6, size))
                    return
            cl.sendall(data)
    except OSError:
        pass
    finally:
        close(up)
        close(cl)


def relay_c2s(cl, up):
    try:
        while True:
            data = cl.recv(65536)
            if not data:
                break
            FLOWING.wait()
            up.sendall(data)
    except OSError:
        pass
    finally:
        close(up)
        close(cl)


# ---- the scripted hostile server -------------------------------------------------


def mini(t, body):
    return struct.pack("<HI", t, len(body)) + body


def le(*words):
    return struct.pack("<%dI" % len(words), *words)


def surface_create(sid, w, h, primary):
    return mini(SPICE_MSG_DISPLAY_SURFACE_CREATE, le(sid, w, h, 32, 1 if primary else 0))


def draw_copy(image):
    b = le(0, 0, 0, 1, 1) + b"\x00"
    ptr = len(b) + 4 + 16 + 2 + 1 + 1 + 12
    b += le(ptr, 0, 0, 1, 1) + struct.pack("<H", SPICE_ROPD_OP_PUT) + b"\x00\x00" + le(0, 0, 0)
    assert len(b) == ptr
    return mini(SPICE_MSG_DISPLAY_DRAW_COPY, b + image)


def descriptor(iid, kind, flags, w, h):
    return struct.pack("<QBBII", iid, kind, flags, w, h)


def announced_pixmap_cache(s):
    """The pixmap_cache_size (pixels) of the client's DISPLAY_INIT."""
    for _ in range(16):
        t, size = struct.unpack("<HI", recv_exact(s, 6))
        if size > 4096:
            raise OSError("client message of %d bytes before DISPLAY_INIT" % size)
        body = recv_exact(s, size)
        if t == SPICE_MSGC_DISPLAY_INIT:
            return struct.unpack_from("<q", body, 1)[0]
    raise OSError("no DISPLAY_INIT")


def cached_bitmap(iid, side):
    """A DRAW_COPY of a valid side x side 1-bit bitmap (two-colour palette,
    all pixels colour 0) flagged CACHE_ME as `iid`: side * side pixels to
    cache for side * side / 8 bytes on the wire."""
    stride = side // 8
    fixed = len(draw_copy(b"")) - 6  # the DRAW_COPY body before its image
    pal_ptr = fixed + 18 + 2 + 12 + 4 + stride * side
    img = descriptor(iid, SPICE_IMAGE_TYPE_BITMAP, SPICE_IMAGE_FLAGS_CACHE_ME, side, side)
    img += bytes([SPICE_BITMAP_FMT_1BIT_BE, SPICE_BITMAP_FLAGS_TOP_DOWN]) + le(side, side, stride, pal_ptr)
    img += bytes(stride * side) + struct.pack("<QH", iid, 2) + le(0x00336699, 0x00FFFFFF)
    return draw_copy(img)


def attack(s, name):
    if name == "cache-flood":
        # Whole 1024 x 1024 images flagged CACHE_ME, never invalidated, until
        # the cache holds one image more than the client announced.
        pixels = announced_pixmap_cache(s)
        count = max(pixels, 0) // (1 << 20) + 1
        log("hostile: client announced a pixmap cache of %d pixels; caching %d images of 1024x1024" % (pixels, count))
        s.sendall(surface_create(0, 64, 64, True))
        for iid in range(1, count + 1):
            s.sendall(cached_bitmap(iid, 1024))
    elif name == "oversized-lz":
        # An LZ_RGB image whose 28-byte header claims 4096 x 4096.
        header = struct.pack(">7I", 0x20205A4C, 0x00010001, 8, 4096, 4096, 16384, 1)
        img = descriptor(1, SPICE_IMAGE_TYPE_LZ_RGB, 0, 1, 1) + struct.pack("<I", len(header)) + header
        s.sendall(surface_create(0, 64, 64, True) + draw_copy(img))
    elif name == "surface-flood":
        for sid in range(64):
            s.sendall(surface_create(sid, 4096, 4096, sid == 0))
    elif name == "endless-length":
        s.sendall(struct.pack("<HI", SPICE_MSG_DISPLAY_DRAW_COPY, 1 << 30))
        while True:
            s.sendall(bytes(4096))
            time.sleep(0.005)
    elif name == "drip":
        s.sendall(surface_create(0, 64, 64, True))
        text = b"a message sent one byte every 500 ms " * 5 + b"\x00"
        msg = mini(SPICE_MSG_NOTIFY, struct.pack("<Q", 0) + le(0, 0, 0, len(text)) + text)
        for b in msg:
            s.sendall(bytes([b]))
            time.sleep(0.5)
    elif name == "garbage":
        s.sendall(random.Random(12).randbytes(64 * 1024))
    else:
        raise OSError("unknown attack %s" % name)


def serve_hostile(s, channel, der, name):
    body = le(0) + der + le(1, 0, 4 + len(der) + 12, 0b1011)
    s.sendall(b"REDQ" + le(2, 2, len(body)) + body)
    recv_exact(s, 4 + 128)  # auth mechanism, RSA ticket (not checked)
    s.sendall(le(0))
    if channel == SPICE_CHANNEL_MAIN:
        s.sendall(mini(SPICE_MSG_MAIN_INIT, le(7, 1, 1, 1, 0, 0, 0, 0)))
        s.sendall(mini(SPICE_MSG_MAIN_CHANNELS_LIST, le(1) + bytes([SPICE_CHANNEL_DISPLAY, 0])))
    elif channel == SPICE_CHANNEL_DISPLAY:
        log("hostile: display channel linked, attack %s" % name)
        attack(s, name)
    while s.recv(4096):
        pass


def handle(cl, upstream, der):
    track(cl)
    try:
        link, channel = read_link(cl)
    except OSError as e:
        log("client: %s" % e)
        close(cl)
        return
    name = None
    with LOCK:
        if HOSTILE["attack"]:
            if channel == SPICE_CHANNEL_MAIN:
                if HOSTILE["main_seen"]:
                    # A new session after the scripted one: relay again.
                    HOSTILE["attack"], HOSTILE["main_seen"] = None, False
                else:
                    HOSTILE["main_seen"] = True
            name = HOSTILE["attack"]
    if name:
        log("hostile: channel %d served by the script (%s)" % (channel, name))
        try:
            serve_hostile(cl, channel, der, name)
        except OSError as e:
            log("hostile: channel %d ended: %s" % (channel, e))
        close(cl)
        return
    try:
        up = socket.create_connection(("127.0.0.1", upstream))
    except OSError as e:
        log("upstream: %s" % e)
        close(cl)
        return
    track(up)
    log("relay: channel %d" % channel)
    try:
        up.sendall(link)
    except OSError:
        close(up)
        close(cl)
        return
    threading.Thread(target=relay_s2c, args=(up, cl, channel), daemon=True).start()
    relay_c2s(cl, up)


def command(line):
    words = line.split()
    if not words:
        return "?"
    if words[0] in ("truncate", "corrupt"):
        ARMED["done"] = threading.Event()
        ARMED["fault"] = words[0]
        log("armed %s" % words[0])
        if not ARMED["done"].wait(60):
            ARMED["fault"] = None
            return "not fired: no display message in 60 s"
        return ARMED["text"]
    if words[0] == "stall" and len(words) == 2:
        FLOWING.clear()
        log("stall %s s" % words[1])
        time.sleep(float(words[1]))
        FLOWING.set()
        text = "released at %d ms after %s s" % (now_ms(), words[1])
        log(text)
        return text
    if words[0] == "hostile" and len(words) == 2:
        with LOCK:
            HOSTILE["attack"], HOSTILE["main_seen"] = words[1], False
        log("hostile %s armed" % words[1])
        return "armed"
    if words[0] == "cut":
        return "cut %d" % cut_all()
    return "unknown command"


def control(path):
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    while True:
        c, _ = srv.accept()

        def one(c=c):
            with c:
                line = c.makefile().readline()
                c.sendall((command(line) + "\n").encode())

        threading.Thread(target=one, daemon=True).start()


def rsa_public_der():
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, "1024"], check=True, capture_output=True)
        return subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                              check=True, capture_output=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--control", required=True)
    a = ap.parse_args()
    der = rsa_public_der()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    threading.Thread(target=control, args=(a.control,), daemon=True).start()
    log("listening on %d, upstream %d" % (a.port, a.upstream))
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c, a.upstream, der), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
