#!/usr/bin/python3
"""Minimal QMP client for the lab server (importable and CLI).

Owns: talking QMP over the unix socket scripts/lab-server creates: capability
negotiation, commands, screendump (PNG), typing text as key events (US
layout, qcode names), writing to the guest's serial port (ringbuf chardev).
Must not: start or stop QEMU on its own (only `quit` when asked) or compare
pictures (imgcmp.py does that).

CLI:
  qmp.py SOCK screendump FILE.png
  qmp.py SOCK type TEXT [--no-enter] [--delay-ms N]
  qmp.py SOCK serial TEXT          (writes TEXT + newline to the guest's ttyS0)
  qmp.py SOCK quit
  qmp.py SOCK device_del ID
  qmp.py SOCK device_add DRIVER [key=value ...]
  qmp.py SOCK hmp "COMMAND LINE"
  qmp.py SOCK cmd NAME ['{"json": "arguments"}']
"""
import json
import os
import socket
import sys
import time

#: chardev id of the guest serial port in scripts/lab-server.
SERIAL_CHARDEV = "ser0"

# US layout: character -> (qcode, shift)
_KEYS = {" ": ("spc", False), "\n": ("ret", False), "\t": ("tab", False)}
for _c in "abcdefghijklmnopqrstuvwxyz":
    _KEYS[_c] = (_c, False)
    _KEYS[_c.upper()] = (_c, True)
for _c in "0123456789":
    _KEYS[_c] = (_c, False)
for _plain, _shifted, _q in [
    ("-", "_", "minus"), ("=", "+", "equal"), ("[", "{", "bracket_left"), ("]", "}", "bracket_right"),
    ("\\", "|", "backslash"), (";", ":", "semicolon"), ("'", '"', "apostrophe"), ("`", "~", "grave_accent"),
    (",", "<", "comma"), (".", ">", "dot"), ("/", "?", "slash"),
]:
    _KEYS[_plain] = (_q, False)
    _KEYS[_shifted] = (_q, True)
for _c, _q in zip("!@#$%^&*()", "1234567890"):
    _KEYS[_c] = (_q, True)


class QMPError(Exception):
    """QMP answered with an error, or the connection failed."""


class QMP:
    """One QMP connection; use as a context manager."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            raise QMPError("cannot connect to QMP socket %s: %s" % (path, e))
        self.buf = b""
        self.events = []
        greeting = self._read()
        # An event QEMU had queued for the previous client can come out on
        # this connection ahead of the greeting (seen with SPICE_DISCONNECTED
        # right after a client left): keep it and read on.
        while "event" in greeting:
            self.events.append(greeting)
            greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError("not a QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the socket (QEMU keeps running)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        """Run one command; returns its 'return' value or raises QMPError."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise QMPError("%s: %s" % (name, r["error"].get("desc", r["error"])))
            return r.get("return")

    def screendump(self, path):
        """Write the guest display as PNG (QEMU >= 7.1 supports format png)."""
        path = os.path.abspath(path)
        self.cmd("screendump", filename=path, format="png")

    def hmp(self, line):
        """Run a human monitor command; returns its text output."""
        return self.cmd("human-monitor-command", **{"command-line": line})

    def key(self, qcode, shift=False):
        """Press and release one key (with left shift held if `shift`)."""
        def ev(q, down):
            return {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": q}}}
        evs = []
        if shift:
            evs.append(ev("shift", True))
        evs += [ev(qcode, True), ev(qcode, False)]
        if shift:
            evs.append(ev("shift", False))
        self.cmd("input-send-event", events=evs)

    def type_text(self, text, enter=True, delay=0.02):
        """Type `text` (US layout) and optionally Enter, one key at a time."""
        for ch in text:
            if ch not in _KEYS:
                raise QMPError("cannot type %r with a US layout" % ch)
            q, shift = _KEYS[ch]
            self.key(q, shift)
            time.sleep(delay)
        if enter:
            self.key("ret")

    def serial_write(self, text, device=SERIAL_CHARDEV):
        """Send `text` to the guest's serial port (ringbuf chardev)."""
        self.cmd("ringbuf-write", device=device, data=text)

    def quit(self):
        """Ask QEMU to exit; a closed connection afterwards is expected."""
        try:
            self.cmd("quit")
        except (QMPError, OSError):
            pass


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, verb, rest = argv[1], argv[2], argv[3:]
    try:
        with QMP(path) as q:
            if verb == "screendump" and len(rest) == 1:
                q.screendump(rest[0])
            elif verb == "type" and rest:
                enter, delay, text = True, 0.02, None
                i = 0
                while i < len(rest):
                    if rest[i] == "--no-enter":
                        enter = False
                    elif rest[i] == "--delay-ms":
                        i += 1
                        delay = int(rest[i]) / 1000.0
                    else:
                        text = rest[i]
                    i += 1
                if text is None:
                    raise QMPError("type: no text")
                q.type_text(text, enter, delay)
            elif verb == "serial" and len(rest) == 1:
                q.serial_write(rest[0] + "\n")
            elif verb == "quit":
                q.quit()
            elif verb == "device_del" and len(rest) == 1:
                q.cmd("device_del", id=rest[0])
            elif verb == "device_add" and rest:
                args = {"driver": rest[0]}
                for kv in rest[1:]:
                    k, _, v = kv.partition("=")
                    args[k] = v
                q.cmd("device_add", **args)
            elif verb == "hmp" and len(rest) == 1:
                out = q.hmp(rest[0])
                if out:
                    sys.stdout.write(out)
            elif verb == "cmd" and rest:
                args = json.loads(rest[1]) if len(rest) > 1 else {}
                r = q.cmd(rest[0], **args)
                print(json.dumps(r, indent=1))
            else:
                sys.stderr.write(__doc__)
                return 2
    except (QMPError, OSError) as e:
        print("qmp: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
