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
import shlex
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
    """scripts/lab-server --daemon under the rig's run directory, or one
    already running, given by its lab.env (and, so that the rig may restart
    it, the command that starts it again)."""

    def __init__(self, run_dir, port, env_file=None, listen=None, restart_cmd=None, server_args=""):
        self.run_dir = run_dir
        self.port = port
        self.env_file = env_file
        self.owned = env_file is None
        self.restart_cmd = restart_cmd
        self.server_args = shlex.split(server_args or "")
        self.listen = listen
        self.forward = None
        self.boot_ms = None

    def start(self):
        """Start the server (blocks until the guest drew its first scene)."""
        if self.owned:
            out = os.path.join(self.run_dir, "lab-server.out")
            with open(out, "ab") as f:
                subprocess.run([os.path.join(REPO, "scripts", "lab-server"), "--port", str(self.port),
                                "--run-dir", os.path.join(self.run_dir, "lab"), "--daemon"] + self.server_args,
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

    def stop(self):
        """End of the run: the LAN forward, and the server if the rig started it."""
        if self.forward:
            self.forward.terminate()
            self.forward.wait(timeout=5)
            self.forward = None
        if self.owned:
            self.kill()

    @property
    def can_restart(self):
        """True when the rig knows how to start this server again."""
        return self.owned or bool(self.restart_cmd)

    def kill(self):
        """Kill the server's QEMU now (the board loses its session)."""
        try:
            with open(self.lab.env["LAB_PIDFILE"]) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                time.sleep(0.1)
                os.kill(pid, 0)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return

    def start_again(self):
        """Start the killed server again: same port, run directory and flags."""
        if self.restart_cmd:
            with open(os.path.join(self.run_dir, "lab-server.out"), "ab") as f:
                subprocess.run(shlex.split(self.restart_cmd), stdout=f, stderr=subprocess.STDOUT,
                               check=True, timeout=300)
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
