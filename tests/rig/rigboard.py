"""The board under test, as the rig scenarios see it, on top of labgrid.

Owns: the labgrid strategy `BarespiceStrategy` (power + console, optional
USB SD-mux and USB video capture), decoding the firmware's serial output
(binary defmt) with defmt-print into one text log per boot, waiting for log
lines, reading the `frame: WxH sha256=HEX` oracle lines, typing text
(emulated: QMP keys into the client QEMU; real: an optional Linux USB HID
gadget, e.g. /dev/hidg0) and taking a picture of the board's screen for the
report (emulated: QMP screendump of the client; real: one frame from a
labgrid USBVideo capture device).
Must not: decide pass/fail (the scenarios do) or drive the SPICE server
(lab.py does).
"""
import enum
import os
import re
import subprocess
import sys
import time

import attr
from labgrid.factory import target_factory
from labgrid.step import step
from labgrid.strategy import Strategy, StrategyError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "lib"))
import qmp as qmpmod  # noqa: E402

#: The oracle line, wherever defmt-print puts it in the decoded line
#: (timestamp and level before it, location info after it, maybe colour codes).
FRAME_RE = re.compile(r"frame: (\d+)x(\d+) sha256=([0-9a-f]{64})\b")


class Status(enum.Enum):
    """States of the board."""

    unknown = 0
    off = 1
    on = 2


@target_factory.reg_driver
@attr.s(eq=False)
class BarespiceStrategy(Strategy):
    """Power off / power on a barespice board. On a bench with a USB SD-mux
    the card is switched to the board before power-on."""

    bindings = {
        "power": "PowerProtocol",
        "console": "ConsoleProtocol",
        "sdmux": {"USBSDMuxDriver", None},
        "video": {"USBVideoDriver", None},
    }

    status = attr.ib(default=Status.unknown)

    @step(args=["status"])
    def transition(self, status, *, step):  # pylint: disable=redefined-outer-name
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError("can not transition to unknown")
        if status == Status.off:
            self.target.activate(self.power)
            self.power.off()
        elif status == Status.on:
            self.transition(Status.off)
            if self.sdmux:
                self.target.activate(self.sdmux)
                self.sdmux.set_mode("dut")
            # Console first, so a real serial port sees the boot's first bytes
            # (QEMUDriver is both: activation only prepares its serial socket).
            self.target.activate(self.console)
            self.target.activate(self.power)
            self.power.on()
        self.status = status


class DefmtLog:
    """defmt-print decoding one boot's serial bytes into a text file."""

    def __init__(self, elf, path):
        self.path = path
        tool = os.path.join(REPO, ".cache", "tools", "bin", "defmt-print")
        self.out = open(path, "wb")
        self.proc = subprocess.Popen([tool, "-e", elf], stdin=subprocess.PIPE,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        self.raw = open(path + ".raw", "wb")

    def feed(self, data):
        self.raw.write(data)
        self.raw.flush()
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError as e:
            raise RuntimeError("defmt-print exited (%s): see %s" % (self.proc.poll(), self.path)) from e

    def lines(self):
        with open(self.path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return text.split("\n")[:-1]

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self.out.close()
        self.raw.close()


class _DriverQMP(qmpmod.QMP):
    """scripts/lib/qmp.py's key typing and screendump over labgrid's QEMUDriver monitor."""

    def __init__(self, driver):  # pylint: disable=super-init-not-called
        self.driver = driver

    def cmd(self, name, **args):
        return self.driver.monitor_command(name, args)

    def close(self):
        pass


# USB HID boot-keyboard usage ids (US layout) for the HID gadget typer.
_HID = {c: 0x04 + i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
_HID.update({c: 0x1e + i for i, c in enumerate("1234567890")})
_HID.update({"\n": 0x28, " ": 0x2c, "-": 0x2d, "=": 0x2e, ".": 0x37, "/": 0x38, ",": 0x36})


def hid_reports(text):
    """8-byte boot-keyboard reports (press, release) typing `text` and Enter."""
    out = []
    for ch in text + "\n":
        shift = ch.isupper()
        code = _HID.get(ch.lower())
        if code is None:
            raise ValueError("the HID gadget typer cannot type %r" % ch)
        out.append(bytes([0x02 if shift else 0, 0, code, 0, 0, 0, 0, 0]))
        out.append(bytes(8))
    return out


class Board:
    """One barespice board behind a labgrid target."""

    def __init__(self, target, run_dir, elf):
        self.target = target
        self.strategy = target.get_driver("BarespiceStrategy")
        self.run_dir = run_dir
        self.elf = elf
        self.boots = 0
        self.log = None
        self.options = dict(target.env.config.data.get("options") or {})
        self.qemu = self._qemu_driver()

    def _qemu_driver(self):
        try:
            return self.target.get_driver("QEMUDriver")
        except Exception:  # noqa: BLE001 - labgrid raises NoDriverFoundError
            return None

    @property
    def emulated(self):
        """True for the QEMU targets."""
        return self.qemu is not None

    def power_on(self):
        """Power on (after off); a new decoded log for this boot."""
        self.power_off()
        self.boots += 1
        self.log = DefmtLog(self.elf, os.path.join(self.run_dir, "serial-boot%d.log" % self.boots))
        self.strategy.transition("on")

    def power_off(self):
        """Power off and close the current boot's log."""
        if self.log:
            self.pump()
            self.log.close()
        self.strategy.transition("off")

    def pump(self):
        """Move whatever the console has into the decoder."""
        if self.log is None or self.strategy.status != Status.on:
            return
        console = self.strategy.console
        for _ in range(64):
            try:
                data = console.read(size=4096, timeout=0.0)
            except Exception:  # noqa: BLE001 - pexpect TIMEOUT: nothing pending
                return
            if not data:
                return
            self.log.feed(data)

    def lines(self):
        """Decoded lines of the current boot so far."""
        self.pump()
        time.sleep(0.05)  # let defmt-print catch up with what was fed
        return self.log.lines() if self.log else []

    def wait(self, pattern, timeout, since=0):
        """Wait for a decoded line (after line `since`) matching `pattern`;
        returns (index, match). Raises TimeoutError with the last lines."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            lines = self.lines()
            for i in range(since, len(lines)):
                m = rx.search(lines[i])
                if m:
                    return i, m
            if time.monotonic() > end:
                tail = "\n".join(lines[-8:])
                raise TimeoutError("no line matching %r within %s s; last lines:\n%s" % (pattern, timeout, tail))
            time.sleep(0.2)

    def frames(self, since=0):
        """`frame:` oracle lines after line `since`: [(index, (w, h), hex)]."""
        out = []
        for i, line in enumerate(self.lines()):
            m = FRAME_RE.search(line) if i >= since else None
            if m:
                out.append((i, (int(m.group(1)), int(m.group(2))), m.group(3)))
        return out

    def type_text(self, text):
        """Type `text` and Enter on the board's keyboard."""
        if self.qemu:
            _DriverQMP(self.qemu).type_text(text)
            return
        gadget = self.options.get("hid_gadget")
        if not gadget:
            raise LookupError("no keyboard: set options.hid_gadget (a USB HID gadget device, see docs/rig.md)")
        with open(gadget, "wb", buffering=0) as dev:
            for report in hid_reports(text):
                dev.write(report)
                time.sleep(0.02)

    def picture(self, path):
        """A picture of the board's screen for the report (None if no capture)."""
        if self.qemu:
            _DriverQMP(self.qemu).screendump(path)
            return path
        video = self.strategy.video
        if not video:
            return None
        self.target.activate(video)
        cmd = video.video.command_prefix + [
            "gst-launch-1.0", "-q", "v4l2src", "device=%s" % video.video.path, "num-buffers=1",
            "!", "videoconvert", "!", "pngenc", "!", "fdsink"]
        png = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=30, check=True).stdout
        with open(path, "wb") as f:
            f.write(png)
        return path
