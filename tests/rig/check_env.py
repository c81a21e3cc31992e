"""Check labgrid environment files for the rig without touching hardware.

usage: .cache/venv/bin/python tests/rig/check_env.py FILE.yaml...

Owns: loading each file with labgrid, creating its `main` target and the
rig's BarespiceStrategy (which resolves the power, console and optional
SD-mux/video bindings), and the options the rig reads. Prints one line per
file; exits 1 if any file fails. Must not: activate a driver (that would
open ports, switch power or start QEMU).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rigboard  # noqa: E402,F401 - registers BarespiceStrategy
from labgrid import Environment  # noqa: E402


def check(path):
    env = Environment(path)
    target = env.get_target("main")
    strategy = target.get_driver("BarespiceStrategy", activate=False)
    opts = env.config.data.get("options") or {}
    board = opts.get("firmware_board", "raspi")
    if board not in ("virt", "raspi"):
        raise ValueError("options.firmware_board must be virt or raspi, not %r" % board)
    name = lambda d: type(d).__name__ if d else "-"  # noqa: E731
    return "power %s, console %s, sdmux %s, video %s, firmware %s, server %s" % (
        name(strategy.power), name(strategy.console), name(strategy.sdmux), name(strategy.video),
        board, opts.get("server_host", "10.0.2.2"))


def main(paths):
    bad = 0
    for p in paths:
        try:
            print("%s: %s" % (os.path.basename(p), check(p)))
        except Exception as e:  # noqa: BLE001 - report any labgrid error per file
            bad += 1
            print("%s: FAIL %s: %s" % (os.path.basename(p), type(e).__name__, e))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
