#!/usr/bin/python3
"""Drive the lab guest started by scripts/lab-server (importable and CLI).

Owns: sending serial commands to the guest (scene changes, timer), waiting for
its serial markers ("SCENE k DONE seq", "TYPED: line"), and taking a
screendump once the display is static.
Must not: start or stop QEMU (scripts/lab-server and the tests do).

Every verb takes --env RUN/lab.env (written by scripts/lab-server) or the
LAB_ENV environment variable.

CLI:
  lab.py [--env F] scene N|next [--timeout S]   draw scene N (or the next one), wait until done;
                                                prints "k seq"
  lab.py [--env F] interval MS                  start (MS>0) or stop (0) timed scene changes
  lab.py [--env F] seq                          prints the seq of the last finished scene (0 if none)
  lab.py [--env F] wait-seq N [--timeout S]     wait until a scene with seq >= N is done
  lab.py [--env F] lines                        prints how many lines the guest printed so far
  lab.py [--env F] wait-typed TEXT [--since-line N] [--timeout S]
                                                wait for "TYPED: TEXT" on serial (after line N)
  lab.py [--env F] stable-dump OUT.png          screendump until two in a row are identical
  lab.py [--env F] video SECONDS [--fps N] [--hold S] [--timeout S]
                                                play the guest's video box (moving for SECONDS,
                                                then its last picture rewritten for S, default 1)
                                                and wait until it is done; prints the frames drawn
  lab.py [--env F] tones SPEC [--timeout S]    play tones on the guest's sound card (lab-server
                                                --audio); SPEC is FREQ:MS,FREQ:MS,... (0:MS =
                                                silence); waits for "TONES DONE <frames>", prints it
  lab.py [--env F] wait-line PREFIX [--since-line N] [--timeout S]
                                                wait for a serial line starting with PREFIX
                                                (after line N); prints it
"""
import argparse
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmp as qmpmod  # noqa: E402

SCENE_RE = re.compile(r"^SCENE (\d+) DONE (\d+)\s*$")
VIDEO_RE = re.compile(r"^VIDEO DONE (\d+)\s*$")


class LabError(Exception):
    """The guest did not do what was asked in time."""


def read_env(path=None):
    """Parse lab.env (KEY=VALUE lines) into a dict."""
    path = path or os.environ.get("LAB_ENV")
    if not path:
        raise LabError("no lab.env given (--env or LAB_ENV)")
    env = {}
    with open(path) as f:
        for line in f:
            k, sep, v = line.strip().partition("=")
            if sep:
                env[k] = v
    return env


class Lab:
    """Handle on one running lab server, described by its lab.env."""

    def __init__(self, env):
        self.env = env
        self.log = env["LAB_SERIAL_LOG"]

    def lines(self):
        """All complete lines the guest printed so far."""
        try:
            with open(self.log, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        data = data.replace("\r", "")
        return data.split("\n")[:-1]

    def last_scene(self):
        """(k, seq) of the last finished scene, or (None, 0)."""
        for line in reversed(self.lines()):
            m = SCENE_RE.match(line)
            if m:
                return int(m.group(1)), int(m.group(2))
        return None, 0

    def send(self, text):
        """Write one command line to the guest's serial input."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.env["LAB_SERIAL_SOCK"])
            s.sendall(text.encode() + b"\n")
            # QEMU must read the bytes before we hang up, or they may be dropped.
            time.sleep(0.1)
        except OSError as e:
            raise LabError("cannot write to the guest serial socket: %s" % e)
        finally:
            s.close()

    def wait_for(self, pred, timeout, what):
        """Poll the serial log until pred(lines) returns a value; returns it."""
        end = time.monotonic() + timeout
        while True:
            lines = self.lines()
            for line in lines:
                if line.startswith("GUEST ERROR"):
                    raise LabError(line)
            r = pred(lines)
            if r:
                return r
            if time.monotonic() > end:
                raise LabError("timed out after %ss waiting for %s" % (timeout, what))
            time.sleep(0.05)

    def wait_seq(self, seq, timeout=60):
        """Wait until a scene with sequence number >= seq is done; returns (k, seq)."""
        def pred(_lines):
            k, s = self.last_scene()
            return (k, s) if s >= seq else None
        return self.wait_for(pred, timeout, "scene seq %d" % seq)

    def scene(self, which="next", timeout=60):
        """Draw scene `which` (a number or 'next') and wait until it is done."""
        _k, seq = self.last_scene()
        self.send("next" if str(which) == "next" else "scene %d" % int(which))
        return self.wait_seq(seq + 1, timeout)

    def interval(self, ms, tries=3, timeout=5):
        """Start or stop the guest's timed scene changes, and wait for the
        guest's "INTERVAL <ms>" acknowledgement.

        A command line can be lost between this socket and the guest's UART
        when QEMU is starved of CPU (the chardev drops what it had not read
        when we hang up); a lost "interval 0" left the guest changing scenes
        for ever. So the command is repeated (up to `tries` times) until the
        guest acknowledges it; repeating it is harmless."""
        want = "INTERVAL %d" % int(ms)
        for _ in range(tries):
            since = len(self.lines())
            self.send("interval %d" % int(ms))
            try:
                return self.wait_for(lambda lines: any(l.strip().endswith(want) for l in lines[since:]), timeout, want)
            except LabError:
                continue
        raise LabError("the guest never acknowledged 'interval %d' (%d tries)" % (int(ms), tries))

    def video(self, seconds, fps=25, hold=1, timeout=None):
        """Play the guest's video (moving for `seconds`, then its last picture
        rewritten for `hold` s); returns the frames drawn once it is done."""
        since = len(self.lines())
        self.send("video %d %d %d" % (int(seconds), int(fps), int(hold)))

        def pred(lines):
            for line in lines[since:]:
                m = VIDEO_RE.match(line)
                if m:
                    return int(m.group(1))
            return None
        return self.wait_for(pred, timeout or (seconds + hold) * 3 + 30, "VIDEO DONE")

    def wait_line(self, prefix, timeout=60, since_line=0):
        """Wait for a serial line starting with `prefix` (after line `since_line`); returns it."""
        return self.wait_for(lambda ls: next((ln for ln in ls[since_line:] if ln.startswith(prefix)), None),
                             timeout, repr(prefix))

    def wait_typed(self, text, timeout=30, since_line=0):
        """Wait until the guest echoed a typed line equal to `text` (after line `since_line`)."""
        want = "TYPED: " + text
        return self.wait_for(lambda ls: want in ls[since_line:], timeout, repr(want))

    def stable_dump(self, out, tries=10, gap=0.3):
        """Screendump until two consecutive dumps are identical; keep the last in `out`."""
        tmp = out + ".prev.png"
        with qmpmod.QMP(self.env["LAB_QMP"]) as q:
            q.screendump(tmp)
            prev = _pixels(tmp)
            for _ in range(tries):
                time.sleep(gap)
                q.screendump(out)
                cur = _pixels(out)
                if cur == prev:
                    os.unlink(tmp)
                    return out
                prev = cur
        os.unlink(tmp)
        raise LabError("display did not become static after %d screendumps" % (tries + 1))


def _pixels(path):
    from PIL import Image
    with Image.open(path) as im:
        return im.size, im.convert("RGB").tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", help="RUN/lab.env of the lab server")
    ap.add_argument("verb")
    ap.add_argument("arg", nargs="?")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--since-line", type=int, default=0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--hold", type=int, default=1)
    a = ap.parse_args()
    try:
        lab = Lab(read_env(a.env))
        if a.verb == "scene":
            k, seq = lab.scene(a.arg or "next", a.timeout)
            print(k, seq)
        elif a.verb == "interval" and a.arg is not None:
            lab.interval(int(a.arg))
        elif a.verb == "seq":
            print(lab.last_scene()[1])
        elif a.verb == "wait-seq" and a.arg is not None:
            k, seq = lab.wait_seq(int(a.arg), a.timeout)
            print(k, seq)
        elif a.verb == "lines":
            print(len(lab.lines()))
        elif a.verb == "wait-typed" and a.arg is not None:
            try:
                lab.wait_typed(a.arg, a.timeout, a.since_line)
            except LabError:
                typed = [ln for ln in lab.lines()[a.since_line:] if ln.startswith("TYPED: ")]
                print("lab: guest typed lines so far: %r" % typed, file=sys.stderr)
                raise
        elif a.verb == "video" and a.arg is not None:
            print(lab.video(int(a.arg), a.fps, a.hold, max(a.timeout, (int(a.arg) + a.hold) * 3 + 30)))
        elif a.verb == "tones" and a.arg:
            since = len(lab.lines())
            lab.send("tones " + " ".join(a.arg.split(",")))
            print(lab.wait_line("TONES DONE", a.timeout, since))
        elif a.verb == "wait-line" and a.arg:
            print(lab.wait_line(a.arg, a.timeout, a.since_line))
        elif a.verb == "stable-dump" and a.arg:
            lab.stable_dump(a.arg)
        else:
            ap.error("unknown verb or missing argument")
    except (LabError, qmpmod.QMPError, OSError, KeyError) as e:
        print("lab: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
