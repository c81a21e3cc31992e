"""The SPICE server side of the rig: scripts/lab-server and the digest oracle.

Owns: starting, stopping and restarting the lab server (QEMU + the Linux
guest that draws test scenes) on a port of the rig's, the `.vv` file the
board gets, and the expected digest: SHA-256 of the server's own QMP
screendump as R,G,B bytes row by row (the pixel data of a binary PPM),
which is what the firmware's `frame:` line carries.
Must not: talk to the board (rigboard.py does) or decide pass/fail.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time

from rigboard import REPO

sys.path.insert(0, os.path.join(REPO, "scripts", "lib"))
import lab as labmod  # noqa: E402


def screen_digest(path):
    """((width, height), hex): SHA-256 of a picture's R,G,B bytes, top row first."""
    from PIL import Image
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        return rgb.size, hashlib.sha256(rgb.tobytes()).hexdigest()


def free_port(first):
    """The first TCP port from `first` on that nothing listens on."""
    p = first
    while subprocess.run(["ss", "-Hltn", "sport = :%d" % p], stdout=subprocess.PIPE,
                         check=False).stdout.strip():
        p += 1
    return p


class LabServer:
    """scripts/lab-server --daemon under the rig's run directory (or one
    already running, given by its lab.env)."""

    def __init__(self, run_dir, port, env_file=None, listen=None):
        self.run_dir = run_dir
        self.port = port
        self.env_file = env_file
        self.owned = env_file is None
        self.listen = listen
        self.forward = None
        self.boot_ms = None

    def start(self):
        """Start the server (blocks until the guest drew its first scene)."""
        if self.owned:
            out = os.path.join(self.run_dir, "lab-server.out")
            with open(out, "ab") as f:
                subprocess.run([os.path.join(REPO, "scripts", "lab-server"), "--port", str(self.port),
                                "--run-dir", os.path.join(self.run_dir, "lab"), "--daemon"],
                               stdout=f, stderr=subprocess.STDOUT, check=True, timeout=300)
            self.env_file = os.path.join(self.run_dir, "lab", "lab.env")
        env = labmod.read_env(self.env_file)
        self.port = int(env["LAB_PORT"])
        self.boot_ms = env.get("LAB_BOOT_MS")
        self.lab = labmod.Lab(env)
        if self.listen and self.forward is None:
            # A real board on the bench LAN: QEMU's SPICE listens on loopback only.
            self.forward = subprocess.Popen(
                ["socat", "TCP-LISTEN:%d,bind=%s,fork,reuseaddr" % (self.port, self.listen),
                 "TCP:127.0.0.1:%d" % self.port])

    def stop(self, forward=True):
        """Kill the server's QEMU (and the LAN forward unless `forward` is False)."""
        if forward and self.forward:
            self.forward.terminate()
            self.forward.wait(timeout=5)
            self.forward = None
        if not self.owned:
            return
        try:
            pid = int(open(self.lab.env["LAB_PIDFILE"]).read().strip())
        except (OSError, ValueError, AttributeError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def restart(self):
        """Kill and start again on the same port and run directory."""
        if not self.owned:
            raise RuntimeError("cannot restart a lab server the rig did not start (RIG_LAB_ENV)")
        self.stop(forward=False)
        time.sleep(0.5)
        self.start()

    def write_vv(self, path, host):
        """The board's connection file: this server at `host` (as the board sees it)."""
        with open(path, "w") as f:
            f.write("[virt-viewer]\ntype=spice\nhost=%s\nport=%d\ntitle=barespice-rig\n" % (host, self.port))
        return path

    def scene(self, which="next"):
        """Show scene `which` on the server and wait until it is drawn."""
        return self.lab.scene(which)

    def expected(self, picture):
        """Stable screendump of the server into `picture`; ((w, h), hex)."""
        self.lab.stable_dump(picture)
        return screen_digest(picture)
