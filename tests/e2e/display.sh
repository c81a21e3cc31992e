# shellcheck shell=bash
# Display end-to-end cases (issue 16), sourced by scripts/test after
# tests/e2e/lib.sh and tests/e2e/firmware.sh (fw_build, FW_ELF).
#
# Owns: the firmware on QEMU virt with its ramfb at 1280x800 against one lab
# server started with --agent (virtio-serial SPICE agent port + the guest's
# lab-agent, scripts/guest/agent.c), and what the display cases check:
#   display-fit      barespice.display=fit: the client's screendump, in the box
#                    where a 1024x768 picture fits 1280x800 keeping its aspect
#                    ratio (computed here), is the server's screendump scaled
#                    by Pillow (bilinear) within a PSNR bound; the borders are black
#   display-pointer  same client: clicks sent to the client QEMU's tablet at the
#                    screen pixels showing given guest pixels come back on the
#                    guest's serial as "AGENT CLICK x y" at those guest pixels (+-1)
#   display-resize   default mode (resize): the guest's agent logs
#                    "AGENT RESIZED 1280x800", the server's screendump becomes
#                    1280x800, and the client's whole screen equals it pixel for pixel;
#                    the client also runs with spice.disable-effects=all and the agent
#                    logs "AGENT DISPLAY_CONFIG flags=7"
#   display-fallback default mode (resize) against a lab server without an agent:
#                    the client logs "no agent answer in 5 s, showing fit" and its
#                    screen is the fit picture (as display-fit)
#   display-status-1024 / display-status-1080
#                    the status screen (no server listening) at 1024x768 and at
#                    1920x1080: the ink height of the "barespice" title, measured
#                    in the screendump, is the same share of the screen height at
#                    both sizes (within 12 %) and at least 2.5 % of it
# Expected pictures are the server's own screendump (scaled by Pillow for fit).
# Must not: share its lab server with other cases (the guest's display mode
# changes), or leave an emulated client running.

DSP_RES=1280x800
DSP_PY='
import math, os, sys, time
sys.path.insert(0, os.environ["DSP_LIBDIR"])
import imgcmp, qmp
from PIL import Image

def fit_box(sw, sh, cw, ch):
    """Where an sw x sh picture lands when scaled to fit cw x ch, centred."""
    if cw * sh <= ch * sw:
        w, h = cw, max(1, sh * cw // sw)
    else:
        w, h = max(1, sw * ch // sh), ch
    return (cw - w) // 2, (ch - h) // 2, w, h

def psnr(a, b):
    from PIL import ImageChops, ImageStat
    st = ImageStat.Stat(ImageChops.difference(a, b))
    mse = sum(v for v in st.sum2) / (3.0 * a.size[0] * a.size[1])
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)
'

dsp_dir() { echo "$E2E_OUT/dsp-client-$1"; }

# dsp_client TAG APPEND: an emulated firmware client at $DSP_RES with APPEND
# on its command line, showing the lab server's desktop (sets DSP_QMP, DSP_LOG).
dsp_client() {
  local dir
  dir=$(dsp_dir "$1")
  DSP_QMP=$dir/qmp.sock
  DSP_LOG=$dir/serial.log
  [ -z "$FW_BUILD_ERROR" ] || fail "$FW_BUILD_ERROR"
  [ -f "$FW_ELF" ] || fail "no firmware at $FW_ELF"
  emu_start "$dir" virt "display client '$1'" 120 -- --append "spice.resolution=$DSP_RES $2" --timeout 900
}

dsp_client_stop() { emu_stop "$(dsp_dir "$1")"; }

dsp_qmp() { "$PY" "$REPO/scripts/lib/qmp.py" "$DSP_QMP" "$@"; }

# dsp_expect_fit: the client's screen is the server's screendump scaled to fit.
dsp_expect_fit() {
  local server="$CASE_DIR/server.png" i
  lab stable-dump "$server"
  for i in $(seq 1 10); do
    dsp_qmp screendump "$CASE_DIR/client.png"
    if DSP_LIBDIR="$REPO/scripts/lib" "$PY" -c "$DSP_PY"'
client, server = imgcmp.load(sys.argv[1]), imgcmp.load(sys.argv[2])
x, y, w, h = fit_box(server.size[0], server.size[1], client.size[0], client.size[1])
ref = server.resize((w, h), Image.BILINEAR)
got = client.crop((x, y, x + w, y + h))
db = psnr(got, ref)
border = Image.new("RGB", client.size)
border.paste(got, (x, y))
black = border.tobytes() == client.tobytes()
print("server %dx%d fits the client %dx%d at %d,%d as %dx%d; PSNR vs Pillow bilinear %.2f dB; borders black: %s"
      % (server.size + client.size + (x, y, w, h, db, black)))
sys.exit(0 if db >= 30 and black else 1)
' "$CASE_DIR/client.png" "$server" > "$CASE_DIR/fit.txt"; then
      cat "$CASE_DIR/fit.txt"
      return 0
    fi
    sleep 0.5
  done
  cat "$CASE_DIR/fit.txt"
  fail "the client's screen is not the server's picture scaled to fit (PSNR >= 30 dB, black borders)"
}

# display-fit
dsp_fit() {
  dsp_client fit "barespice.display=fit"
  grep -aq 'display: fit' "$DSP_LOG" || fail "the client log does not name the fit mode"
  dsp_expect_fit
}

# display-fallback: resize mode, no agent in the guest.
dsp_fallback() {
  dsp_client fallback ""
  local t0=$SECONDS
  until grep -aq 'display: resize: no agent answer in 5 s, showing fit' "$DSP_LOG"; do
    [ $((SECONDS - t0)) -lt 30 ] || { grep -a 'display' "$DSP_LOG"; fail "the client did not fall back to fit"; }
    sleep 0.5
  done
  grep -a 'no agent answer' "$DSP_LOG"
  dsp_expect_fit
}

# display-pointer: click at the screen pixels that show these guest pixels.
dsp_pointer() {
  dsp_client fit "barespice.display=fit"
  local t0=$SECONDS
  until grep -aq 'mouse mode client' "$DSP_LOG"; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "the client never got client mouse mode (agent not connected?)"
    sleep 0.5
  done
  local since
  since=$(lab lines)
  DSP_LIBDIR="$REPO/scripts/lib" LAB_SERIAL_LOG="$LAB_SERIAL_LOG" "$PY" -c "$DSP_PY"'
screen_w, screen_h = [int(v) for v in sys.argv[2].split("x")]
guest_w, guest_h = [int(v) for v in sys.argv[3].split("x")]
since = int(sys.argv[4])
x0, y0, w, h = fit_box(guest_w, guest_h, screen_w, screen_h)
q = qmp.QMP(sys.argv[1])
def abs_ev(axis, v):
    return {"type": "abs", "data": {"axis": axis, "value": v}}
def btn(down):
    return {"type": "btn", "data": {"down": down, "button": "left"}}
def serial():
    with open(os.environ["LAB_SERIAL_LOG"], errors="replace") as f:
        return f.read().splitlines()[since:]
bad = 0
for gx, gy in [(100, 100), (512, 384), (1000, 40), (37, 700)]:
    # centre of the screen pixel that shows guest pixel (gx, gy), then the
    # tablet value (0..0x7fff) that lands in that screen pixel
    sx = x0 + (2 * gx + 1) * w // (2 * guest_w)
    sy = y0 + (2 * gy + 1) * h // (2 * guest_h)
    ax = ((2 * sx + 1) * 0x8000) // (2 * screen_w)
    ay = ((2 * sy + 1) * 0x8000) // (2 * screen_h)
    n = len(serial())
    q.cmd("input-send-event", events=[abs_ev("x", ax), abs_ev("y", ay)])
    time.sleep(0.3)
    q.cmd("input-send-event", events=[btn(True)])
    time.sleep(0.2)
    q.cmd("input-send-event", events=[btn(False)])
    deadline = time.time() + 15
    hit = None
    while time.time() < deadline and hit is None:
        for ln in serial()[n:]:
            if ln.startswith("AGENT CLICK "):
                hit = [int(v) for v in ln.split()[2:4]]
        time.sleep(0.2)
    if hit is None:
        print("guest pixel %d,%d (screen %d,%d): no AGENT CLICK on the guest serial" % (gx, gy, sx, sy))
        bad += 1
        continue
    ok = abs(hit[0] - gx) <= 1 and abs(hit[1] - gy) <= 1
    bad += 0 if ok else 1
    print("guest pixel %d,%d shown at screen %d,%d: the guest saw a click at %d,%d %s"
          % (gx, gy, sx, sy, hit[0], hit[1], "ok" if ok else "WRONG"))
sys.exit(1 if bad else 0)
' "$DSP_QMP" "$DSP_RES" "$LAB_RESOLUTION" "$since" || fail "clicks did not land on the intended guest pixels"
  echo "4 clicks through the fit-scaled screen landed on the intended guest pixels (+-1)"
}

# display-resize: the default mode asks the guest's agent for the local size.
dsp_resize() {
  local since
  since=$(lab lines)
  dsp_client resize "spice.disable-effects=all"
  lab wait-line "AGENT RESIZED $DSP_RES" --since-line "$since" --timeout 60 > /dev/null ||
    { grep -a '^AGENT' "$LAB_SERIAL_LOG" | tail -n 5; fail "the guest's agent did not resize to $DSP_RES"; }
  lab wait-line "AGENT DISPLAY_CONFIG flags=7" --since-line "$since" --timeout 30 > /dev/null ||
    fail "the guest's agent got no DISPLAY_CONFIG with wallpaper+font-smooth+animation (7)"
  echo "guest serial: $(grep -a "^AGENT MONITORS" "$LAB_SERIAL_LOG" | tail -n1); AGENT RESIZED $DSP_RES"
  local t0=$SECONDS
  until grep -aq "display: resize: the guest agent set $DSP_RES" "$DSP_LOG"; do
    [ $((SECONDS - t0)) -lt 30 ] || { grep -a 'display' "$DSP_LOG"; fail "the client did not log the agent's answer"; }
    sleep 0.5
  done
  local server="$CASE_DIR/server.png" client="$CASE_DIR/client.png" i size
  for i in $(seq 1 20); do
    lab stable-dump "$server"
    size=$("$PY" -c 'import sys; from PIL import Image; print("%dx%d" % Image.open(sys.argv[1]).size)' "$server")
    [ "$size" = "$DSP_RES" ] || { sleep 0.5; continue; }
    dsp_qmp screendump "$client"
    if cmp -s <("$PY" -c 'import sys; from PIL import Image; sys.stdout.buffer.write(Image.open(sys.argv[1]).convert("RGB").tobytes())' "$client") \
              <("$PY" -c 'import sys; from PIL import Image; sys.stdout.buffer.write(Image.open(sys.argv[1]).convert("RGB").tobytes())' "$server"); then
      echo "the guest display is $size and the client's whole $DSP_RES screen equals the server's screendump (try $i)"
      return 0
    fi
    sleep 0.5
  done
  [ "$size" = "$DSP_RES" ] || fail "the server's screendump is $size, not $DSP_RES"
  imgcmp "$client" "$server" || true
  fail "the client's screen differs from the server's $DSP_RES screendump"
}

# display-status-WxH: the status screen with no server listening; measure the title.
dsp_status() {
  local res=$1 dir="$CASE_DIR/client" port
  port=$(free_port)
  mkdir -p "$dir"
  printf '[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport=%s\ntitle=barespice-lab\n' "$port" > "$dir/lab.vv"
  echo "+ scripts/emulate --board virt --no-build --config $dir/lab.vv --append spice.resolution=$res (nothing listens on $port)"
  setsid "$REPO/scripts/emulate" --board virt --no-build --config "$dir/lab.vv" --qmp "$dir/qmp.sock" \
    --serial-log "$dir/serial.log" --display none --append "spice.resolution=$res" --timeout 300 \
    > "$dir/emulate.out" 2>&1 < /dev/null &
  echo $! > "$dir/emulate.pid"
  local t0=$SECONDS
  until grep -aq 'reconnecting in' "$dir/serial.log" 2>/dev/null; do
    emu_alive "$dir" || { cat "$dir/emulate.out"; fail "the emulated client exited"; }
    [ $((SECONDS - t0)) -lt 120 ] || { emu_stop "$dir"; fail "the client never failed to connect"; }
    sleep 0.5
  done
  sleep 1
  "$PY" "$REPO/scripts/lib/qmp.py" "$dir/qmp.sock" screendump "$CASE_DIR/status.png"
  emu_stop "$dir"
  "$PY" -c '
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
W, H = im.size
px = im.load()
FG = (0xe8, 0xe8, 0xe8)
# Rows of the top fifth holding title-coloured pixels: the first run is the "barespice" title.
rows = [y for y in range(H // 5) if any(px[x, y] == FG for x in range(0, W // 2))]
if not rows:
    print("no title text found in the top fifth of %dx%d" % (W, H)); sys.exit(1)
top = bottom = rows[0]
for y in rows[1:]:
    if y != bottom + 1:
        break
    bottom = y
ink = bottom - top + 1
share = 100.0 * ink / H
print("%dx%d: title ink rows %d..%d = %d px = %.2f %% of the screen height" % (W, H, top, bottom, ink, share))
open(sys.argv[2], "w").write("%f\n" % share)
sys.exit(0 if share >= 2.5 else 1)
' "$CASE_DIR/status.png" "$E2E_OUT/display-status-$res.share" || fail "the status text is smaller than 2.5 % of the screen height"
  local other
  for other in "$E2E_OUT"/display-status-*.share; do
    [ "$other" != "$E2E_OUT/display-status-$res.share" ] && [ -f "$other" ] || continue
    "$PY" -c '
import sys
a, b = float(open(sys.argv[1]).read()), float(open(sys.argv[2]).read())
print("share here %.2f %%, %s: %.2f %% (ratio %.3f)" % (a, sys.argv[2].rsplit("/", 1)[-1], b, a / b))
sys.exit(0 if abs(a / b - 1) <= 0.12 else 1)
' "$E2E_OUT/display-status-$res.share" "$other" || fail "the text is not the same share of the screen height at both sizes"
  done
  echo "status screen at $res: title text $(cat "$E2E_OUT/display-status-$res.share" | cut -c1-4) % of the screen height"
}

# display_cases: all of the above; one lab server (--agent) for the first three.
display_cases() {
  any_selected display-fit display-pointer display-resize display-fallback display-status-1024 display-status-1080 || return 0
  local t0=$SECONDS
  [ -s "$E2E_OUT/build-firmware.log" ] || fw_build
  run_case display-fit "--agent" dsp_fit
  run_case display-pointer "--agent" dsp_pointer
  dsp_client_stop fit
  run_case display-resize "--agent" dsp_resize
  dsp_client_stop resize
  run_case display-fallback "--image-compression off" dsp_fallback
  dsp_client_stop fallback
  lab_stop
  run_case display-status-1024 none dsp_status 1024x768
  run_case display-status-1080 none dsp_status 1920x1080
  echo "display section: $((SECONDS - t0)) s"
}
