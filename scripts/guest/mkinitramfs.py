#!/usr/bin/python3
"""Pack the lab guest's initramfs (newc cpio, uncompressed) without root.

Owns: choosing the kernel modules each display driver needs (read from the
modules' own `depends=` tags, loaded dependencies first), and writing the
archive: /init, /bin/busybox, /bin/fbvideo, /bin/lab-agent, /bin/lab-tones
(optional), /modules, /scenes,
/dev/console.
Must not: download anything or draw scenes (scripts/guest/build and
scenes.py do that).

CLI: mkinitramfs.py --modroot DIR --busybox FILE --init FILE --scenes DIR --size W,H
                    [--video FILE] [--agent FILE] [--tones FILE] --out FILE
"""
import argparse
import os
import stat
import sys

#: Top-level display driver modules per `--vga` choice of scripts/lab-server.
DRIVERS = {
    "std": "bochs",
    "qxl": "qxl",
}

#: Modules for the SPICE agent port (scripts/lab-server --agent): the
#: virtio PCI transport and virtio-serial ports (modules/load-agent).
AGENT_MODULES = ("virtio_pci", "virtio_console")

#: Modules for the sound card (scripts/lab-server --audio: QEMU's AC97 on the
#: SPICE audiodev) and its OSS emulation (/dev/dsp, /dev/mixer) that
#: /bin/lab-tones plays through (modules/load-audio).
AUDIO_MODULES = ("snd_intel8x0", "snd_pcm_oss")

#: Modules for redirected USB disks (scripts/lab-server --usb-redir): the xHCI
#: the redirected devices hang off, usb-storage and SCSI disks (modules/load-usb).
USB_MODULES = ("xhci_pci", "usb_storage", "sd_mod")


def _module_index(modroot):
    """Map module name -> path of its .ko below modroot (lib/modules/<kver>/kernel)."""
    index = {}
    for base, _dirs, files in os.walk(modroot):
        for f in files:
            if f.endswith(".ko"):
                index[f[:-3].replace("-", "_")] = os.path.join(base, f)
    return index


def _depends(path):
    """Module names listed in the .ko's modinfo `depends=` tag."""
    with open(path, "rb") as f:
        data = f.read()
    for chunk in data.split(b"\0"):
        if chunk.startswith(b"depends="):
            names = chunk[len(b"depends="):].decode()
            return [n.replace("-", "_") for n in names.split(",") if n]
    return []


def load_order(index, top):
    """Modules needed for `top`, each after everything it depends on."""
    order, seen = [], set()

    def visit(name, stack):
        if name in seen:
            return
        if name in stack:
            raise SystemExit("module dependency cycle at %s" % name)
        if name not in index:
            raise SystemExit("module %s not found in the kernel package" % name)
        for dep in _depends(index[name]):
            visit(dep, stack + [name])
        seen.add(name)
        order.append(name)

    visit(top, [])
    return order


class Cpio:
    """Minimal writer for the kernel's initramfs format (cpio 'newc')."""

    def __init__(self, f):
        self.f = f
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        nb = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.f.write(hdr + nb)
        self.f.write(b"\0" * (-(len(hdr) + len(nb)) % 4))
        self.f.write(data)
        self.f.write(b"\0" * (-len(data) % 4))

    def mkdir(self, name):
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, mode=0o644):
        self.mkdir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def chardev(self, name, major, minor):
        self.mkdir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        self.f.write(b"\0" * (-self.f.tell() % 512))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modroot", required=True, help="lib/modules/<kver>/kernel of the unpacked kernel package")
    ap.add_argument("--busybox", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--scenes", required=True, help="directory with scene-<k>.bgrx")
    ap.add_argument("--size", required=True, help="W,H the scenes were drawn for")
    ap.add_argument("--video", help="static fbvideo binary (the guest's `video` command)")
    ap.add_argument("--agent", help="static lab-agent binary (the guest's SPICE agent)")
    ap.add_argument("--tones", help="static lab-tones binary (the guest's test signal)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    index = _module_index(a.modroot)
    lists, needed = {}, []
    for vga, top in DRIVERS.items():
        lists[vga] = load_order(index, top)
        needed += [m for m in lists[vga] if m not in needed]
    if a.agent:
        lists["agent"] = []
        for top in AGENT_MODULES:
            lists["agent"] += [m for m in load_order(index, top) if m not in lists["agent"]]
        needed += [m for m in lists["agent"] if m not in needed]
    if a.tones:
        lists["audio"] = []
        for top in AUDIO_MODULES:
            lists["audio"] += [m for m in load_order(index, top) if m not in lists["audio"]]
        needed += [m for m in lists["audio"] if m not in needed]

    lists["usb"] = []
    for top in USB_MODULES:
        lists["usb"] += [m for m in load_order(index, top) if m not in lists["usb"]]
    needed += [m for m in lists["usb"] if m not in needed]

    scenes = sorted((f for f in os.listdir(a.scenes) if f.endswith(".bgrx")),
                    key=lambda f: int(f.split("-")[1].split(".")[0]))
    if not scenes:
        sys.exit("no scenes in %s" % a.scenes)

    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        c = Cpio(f)
        for d in ("dev", "proc", "sys", "bin", "tmp"):
            c.mkdir(d)
        c.chardev("dev/console", 5, 1)
        with open(a.init, "rb") as s:
            c.file("init", s.read(), 0o755)
        with open(a.busybox, "rb") as s:
            c.file("bin/busybox", s.read(), 0o755)
        if a.video:
            with open(a.video, "rb") as s:
                c.file("bin/fbvideo", s.read(), 0o755)
        if a.agent:
            with open(a.agent, "rb") as s:
                c.file("bin/lab-agent", s.read(), 0o755)
        if a.tones:
            with open(a.tones, "rb") as s:
                c.file("bin/lab-tones", s.read(), 0o755)
        for m in needed:
            with open(index[m], "rb") as s:
                c.file("modules/%s.ko" % m, s.read())
        for vga, order in lists.items():
            c.file("modules/load-%s" % vga, "".join("%s.ko\n" % m for m in order).encode())
        for s_name in scenes:
            with open(os.path.join(a.scenes, s_name), "rb") as s:
                c.file("scenes/" + s_name, s.read())
        c.file("scenes/size", (a.size + "\n").encode())
        c.finish()
    os.replace(tmp, a.out)
    for vga, order in lists.items():
        print("modules for vga=%s: %s" % (vga, " ".join(order)), file=sys.stderr)


if __name__ == "__main__":
    main()
