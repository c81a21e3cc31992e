"""The rig scenarios, in the order they run on one board (select with -k NAME).

Each prints one `PASS <scenario>: ...` line or fails with one reason:
  boot            power on -> firmware entry and the status screen's first steps
  dhcp_bound      the firmware logs its DHCP lease
  session_linked  SPICE link, then the first remote frame (boot timeline figures)
  picture         the board's `frame:` digest equals the digest of the server's own
                  screendump, now and after each of --rig-scenes scene changes
  typing          text typed on the board's keyboard reaches the guest ("TYPED: ...")
  server_restart  the server is killed and started again; the board reconnects and
                  its digest equals the new server's screen
  power_cycles    --rig-cycles power cycles, each ending in a pixel-exact desktop
The digest oracle decides every picture check: the firmware (barespice.rig=1)
logs `frame: WxH sha256=HEX` once its remote desktop has been unchanged for
1 s; the rig hashes the server's QMP screendump the same way. No picture of
the board's screen is compared (those in the report are for people).
"""
import os
import re
import time

import pytest

from conftest import timeline

STAMP = re.compile(r"^\s*(\d+\.\d+)")


def stamp(line):
    """The defmt timestamp (seconds since the board started) of a decoded line."""
    m = STAMP.match(line)
    return float(m.group(1)) if m else None


def expect_picture(board, server, rig, label, since, timeout):
    """Wait for a `frame:` line after log line `since` whose digest equals the
    server's screen. A different digest that is not followed by another
    `frame:` line within the board's `mismatch_settle` seconds is a mismatch
    (a board still drawing logs no line, so slow boards need a longer
    settle). Returns (index, hex)."""
    settle = board.settle
    png = os.path.join(rig.out, "server-%s.png" % label)
    size, want = server.expected(png)
    if rig.opt("wrong_scene"):
        server.scene("next")  # deliberately wrong: the board now shows another scene
    end = time.monotonic() + timeout
    count, last_new = 0, None
    while True:
        frames = board.frames(since)
        for idx, fsize, hx in frames:
            if fsize == size and hx == want:
                return idx, hx
        now = time.monotonic()
        if len(frames) != count:
            count, last_new = len(frames), now
        if frames and now - last_new > settle:
            _, fsize, hx = frames[-1]
            rig.picture("board screen at the %s mismatch" % label,
                        board.picture(os.path.join(rig.out, "board-%s.png" % label)))
            pytest.fail("MISMATCH %s: board frame %dx%d sha256=%s, server screendump %dx%d sha256=%s (%s)"
                        % (label, fsize[0], fsize[1], hx, size[0], size[1], want, png))
        if now > end:
            pytest.fail("no frame: line from the board within %.0f s for %s (server sha256=%s)"
                        % (timeout, label, want))
        time.sleep(0.3)


def test_boot(board, rig):
    i, _ = board.wait(r"timeline: entry", board.boot_timeout)
    entry = board.lines()[i]
    j, m = board.wait(r"step Firmware: Done (.*)", 30, i)
    board.wait(r"step Configuration: Done", 30, i)
    rig.figure("firmware entry (s since power-on, defmt clock)", stamp(entry))
    rig.passed("boot", "firmware entry at %s s, status screen: Firmware done (%s), Configuration done"
               % (stamp(entry), m.group(1).strip()))


def test_dhcp_bound(board, rig):
    i, m = board.wait(r"timeline: dhcp bound (\S+)", board.boot_timeout)
    rig.passed("dhcp_bound", "address %s at %s s" % (m.group(1), stamp(board.lines()[i])))


def test_session_linked(board, rig):
    i, _ = board.wait(r"timeline: linked", board.boot_timeout)
    j, m = board.wait(r"timeline: first frame (\d+x\d+)", board.boot_timeout, i)
    lines = board.lines()
    rig.figure("SPICE linked (s)", stamp(lines[i]))
    rig.figure("first remote frame (s)", stamp(lines[j]))
    rig.block("Boot timeline (boot 1, scripts/boot-timeline)", timeline(board.log.path, board.firmware_board))
    rig.passed("session_linked", "linked at %s s, first frame %s at %s s"
               % (stamp(lines[i]), m.group(1), stamp(lines[j])))


def test_picture(board, server, rig):
    n = rig.opt("scenes")
    since = 0
    idx, hx = expect_picture(board, server, rig, "scene0", since, board.boot_timeout)
    done = ["start %s" % hx[:12]]
    for k in range(1, n + 1):
        since = len(board.lines())
        scene, _seq = server.scene("next")
        idx, hx = expect_picture(board, server, rig, "scene%d" % k, since, 60)
        done.append("scene %s %s" % (scene, hx[:12]))
    rig.picture("board screen (client QMP screendump / capture) after the last scene",
                board.picture(os.path.join(rig.out, "board-screen.png")))
    rig.picture("server screendump (the oracle's input)", os.path.join(rig.out, "server-scene%d.png" % n))
    rig.passed("picture", "%d digests equal the server's: %s" % (n + 1, ", ".join(done)))


def test_typing(board, server, rig):
    text = "rig typed %d" % (int(time.time()) % 100000)
    since = len(server.lab.lines())
    try:
        board.type_text(text)
    except LookupError as e:
        pytest.skip(str(e))
    server.lab.wait_typed(text, 30, since)
    rig.passed("typing", "guest echoed 'TYPED: %s'" % text)


def test_server_restart(board, server, rig):
    if not server.can_restart:
        pytest.skip("the lab server was given by RIG_LAB_ENV without RIG_LAB_RESTART")
    since = len(board.lines())
    t0 = time.monotonic()
    server.kill()
    board.wait(r"reconnecting", 60, since)
    server.start_again()
    up = time.monotonic()
    idx, hx = expect_picture(board, server, rig, "restart", since, 120)
    back = time.monotonic() - up
    rig.figure("server restart: desktop back after the server was up (s)", "%.1f" % back)
    rig.passed("server_restart", "board logged reconnecting, desktop back pixel-exact %.1f s after the new "
               "server was up (%.0f s in all)" % (back, time.monotonic() - t0))


def test_power_cycles(board, server, rig):
    n = rig.opt("cycles")
    times = []
    for c in range(1, n + 1):
        t0 = time.monotonic()
        board.power_on()
        expect_picture(board, server, rig, "cycle%d" % c, 0, board.boot_timeout)
        times.append(time.monotonic() - t0)
    rig.figure("power-on to pixel-exact desktop (s, per cycle)", ", ".join("%.1f" % t for t in times))
    rig.passed("power_cycles", "%d power cycles -> %d pixel-exact desktops (%s s)"
               % (n, n, ", ".join("%.1f" % t for t in times)))
