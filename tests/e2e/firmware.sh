# shellcheck shell=bash
# Firmware end-to-end cases (issue 4), sourced by scripts/test after
# tests/e2e/lib.sh (run_case, the shared lab server, lab/imgcmp helpers).
#
# Owns: building the bare-metal firmware once, one emulated client per lab
# server configuration (scripts/emulate --board virt, kept running across that
# configuration's cases; it reaches the host's 127.0.0.1:P at 10.0.2.2:P), and
# what the fw-* cases check:
#   fw-snapshot-off / fw-snapshot-lz  after >= 20 timed scene changes the
#       client's QMP screendump, cropped to the remote desktop the firmware
#       centres 1:1 in its ramfb, equals the server's screendump pixel for pixel
#   fw-input      keys typed into the client QEMU (QMP input-send-event on its
#       virtio keyboard) come back on the guest's serial as "TYPED: ..."
#   fw-reconnect  the lab server is killed and restarted (same port and flags);
#       the client logs "reconnecting", its screen is no longer the desktop, and
#       within 5 s of the new server listening (and of its first scene) it shows
#       the server's screen again pixel for pixel. The client runs with
#       spice.reconnect-max=2 (back-off capped at 2 s) so the deadline is met.
# Expected pictures are always the server's own screendump.
# Must not: start or stop the shared lab server, except fw-reconnect, which
# kills and restarts it on purpose with the same port, run directory and flags
# (the harness then finds it alive and keeps sharing it).

FW_RECONNECT_MAX=2
FW_BUILD_ERROR=""
FW_ELF="$REPO/out/firmware/virt/barespice.elf"

# fw_build: scripts/build-firmware once for the whole section (parent shell).
fw_build() {
  local t0=$SECONDS
  echo "--- build firmware (scripts/build-firmware)"
  if "$REPO/scripts/build-firmware" > "$E2E_OUT/build-firmware.log" 2>&1; then
    echo "firmware: $(tail -n1 "$E2E_OUT/build-firmware.log") ($(stat -c %s "$REPO/out/firmware/virt/Image") bytes, built in $((SECONDS - t0)) s)"
  else
    FW_BUILD_ERROR="scripts/build-firmware failed (see $E2E_OUT/build-firmware.log)"
    echo "$FW_BUILD_ERROR"
    tail -n 15 "$E2E_OUT/build-firmware.log" | sed 's/^/    /'
  fi
}

# ---- the emulated client (one per server configuration, named by TAG) ----------

fw_dir() { echo "$E2E_OUT/fw-client-$1"; }

fw_alive() { emu_alive "$(fw_dir "$1")"; }

# fw_client_ensure TAG: make sure the firmware runs against the current lab
# server and has shown its first frame; sets FW_QMP and FW_LOG.
fw_client_ensure() {
  local tag=$1 dir
  dir=$(fw_dir "$tag")
  FW_QMP=$dir/qmp.sock
  FW_LOG=$dir/serial.log
  [ -z "$FW_BUILD_ERROR" ] || fail "$FW_BUILD_ERROR"
  [ -f "$FW_ELF" ] || fail "no firmware at $FW_ELF (the build step did not run)"
  emu_start "$dir" virt "firmware client '$tag'" 120 -- \
    --append "spice.reconnect-max=$FW_RECONNECT_MAX barespice.display=1:1" --timeout 1200
}

# fw_client_stop TAG: QMP quit, then the process group if it lingers (parent or case).
fw_client_stop() { emu_stop "$(fw_dir "$1")"; }

fw_clients_stop() {
  fw_client_stop off
  fw_client_stop lz
}

fw_qmp() { "$PY" "$REPO/scripts/lib/qmp.py" "$FW_QMP" "$@"; }

# ---- pictures ------------------------------------------------------------------

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# after_line FILE N REGEX: true when a line after line N of FILE matches REGEX.
after_line() { awk -v n="$2" -v re="$3" 'NR > n && $0 ~ re { f = 1; exit } END { exit !f }' "$1"; }

# Python shared by fw_match and fw_watch: centred(client, server) compares the
# server's picture with the box of the client's picture where the firmware
# draws the remote desktop, 1:1 centred (origin ((W - w) / 2, (H - h) / 2), as
# its screen::remote_origin). Pictures are loaded with imgcmp.py (RGB).
FW_PY_CENTRED='
import os, random, sys, time
sys.path.insert(0, os.environ["FW_LIBDIR"])
import imgcmp, qmp

def centred(client, server):
    (cw, ch), (sw, sh) = client.size, server.size
    ox, oy = (cw - sw) // 2, (ch - sh) // 2
    if ox < 0 or oy < 0:
        return False, "server picture %dx%d does not fit in the client picture %dx%d" % (sw, sh, cw, ch)
    box = client.crop((ox, oy, ox + sw, oy + sh))
    if box.tobytes() == server.tobytes():
        return True, "identical %dx%d at %d,%d" % (sw, sh, ox, oy)
    # The report in C (PIL), not per pixel in Python: this runs in polling loops.
    from PIL import ImageChops
    r, g, b = ImageChops.difference(box, server).split()
    diff = ImageChops.lighter(ImageChops.lighter(r, g), b).point(lambda v: 255 if v else 0)
    x0, y0, x1, y1 = diff.getbbox()
    count = diff.histogram()[255]
    return False, "%dx%d at %d,%d: %d of %d pixels differ; bbox x %d..%d y %d..%d; at (%d,%d) %s vs %s" % (
        sw, sh, ox, oy, count, sw * sh, x0, x1 - 1, y0, y1 - 1, x0, y0,
        box.getpixel((x0, y0)), server.getpixel((x0, y0)))
'

# fw_match CLIENT.png SERVER.png: the server's picture sits 1:1 centred in the
# client's. Prints what it found; exit 0 = match.
fw_match() {
  FW_LIBDIR="$REPO/scripts/lib" "$PY" -c "$FW_PY_CENTRED"'
ok, text = centred(imgcmp.load(sys.argv[1]), imgcmp.load(sys.argv[2]))
print(text)
sys.exit(0 if ok else 1)
' "$1" "$2"
}

# fw_watch SERVER_QMP T0_MS TIMEOUT_S OUTDIR: until the client's screen shows a
# picture of the server's live screen, pixel for pixel. Loops: client dump, two
# server dumps (PPM, cheaper than PNG for both QEMUs; the second after a random
# pause); the client's dump may equal any server dump of the last 1.5 s or the
# ones right after it (the client lags a little, and the screen can change
# between dumps, e.g. the boot console's blinking cursor). Prints "+MS ms: ..."
# with MS from T0_MS (epoch ms) to the end of the client dump that matched;
# exit 1 on timeout.
fw_watch() {
  FW_LIBDIR="$REPO/scripts/lib" "$PY" -c "$FW_PY_CENTRED"'
client_sock, server_sock, t0, timeout, out = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1000, float(sys.argv[4]), sys.argv[5]
WINDOW = 1.5
now = time.time
ring, n, last, server, printed = [], 0, "no comparison yet", None, 0

def dump(q, name):
    path = os.path.join(out, name)
    q.cmd("screendump", filename=path)
    return imgcmp.load(path)

def grab():
    global n
    n += 1
    ring.append((now(), dump(server, "server-%d.ppm" % (n % 4))))

with qmp.QMP(client_sock) as client:
    while now() < t0 + timeout:
        try:
            if server is None:
                server = qmp.QMP(server_sock, timeout=10)
                grab()
            shot = dump(client, "client.ppm")
            tc = now()
            grab()
            # A second server dump at a random offset, so periodic changes
            # (the cursor blinks every ~270 ms) are not sampled in one phase only.
            time.sleep(random.uniform(0.05, 0.3))
            grab()
        except (qmp.QMPError, OSError) as e:
            if server is not None:
                server.close()
            server, last = None, "server screendump: %s" % e
            time.sleep(0.2)
            continue
        ring[:] = [r for r in ring if r[0] >= tc - WINDOW]
        for ts, pic in reversed(ring):
            ok, text = centred(shot, pic)
            if ok:
                print("+%d ms: client == server screen dumped %+d ms from it: %s" % ((tc - t0) * 1000, (ts - tc) * 1000, text))
                sys.exit(0)
        if text != last or tc - printed >= 1:
            print("  +%d ms: not yet (%d server dumps): %s" % ((tc - t0) * 1000, len(ring), text))
            printed = tc
        if text != last:
            shot.save(os.path.join(out, "client-%d.png" % ((tc - t0) * 1000)))
        last = text
print("timed out after %ss: %s" % (timeout, last))
sys.exit(1)
' "$FW_QMP" "$1" "$2" "$3" "$4"
}

# fw_expect_desktop TRIES: the server's display is static; compare the client's
# screen with it up to TRIES times 0.5 s apart (the client may still be drawing).
fw_expect_desktop() {
  local tries=$1 i server="$CASE_DIR/server.png" client="$CASE_DIR/client.png"
  lab stable-dump "$server"
  for i in $(seq 1 "$tries"); do
    fw_qmp screendump "$client"
    if fw_match "$client" "$server" > "$CASE_DIR/match.txt"; then
      FW_MATCH_TRY=$i
      return 0
    fi
    sleep 0.5
  done
  cat "$CASE_DIR/match.txt"
  imgcmp find "$server" "$client" || true
  fail "the client's screen does not show the server's screendump (after $tries tries; pictures in $CASE_DIR)"
}

# fw_scenes_stop: stop the guest's timed scenes and wait for its "INTERVAL 0"
# answer (it comes after any scene being drawn has printed its DONE marker).
fw_scenes_stop() {
  local n t0=$SECONDS
  n=$(lab lines)
  lab interval 0
  until after_line "$LAB_SERIAL_LOG" "$n" '^INTERVAL 0'; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "guest did not confirm 'interval 0'"
    sleep 0.1
  done
}

# ---- cases -----------------------------------------------------------------------

# fw_snapshot TAG: >= 20 scene changes while the firmware stays connected, then
# its screen equals the server's screendump.
fw_snapshot() {
  fw_client_ensure "$1"
  fw_scenes_match
}

# fw_scenes_match: >= 20 timed scene changes on the running client (FW_LOG,
# FW_QMP), no lost connection, then its screen equals the server's screendump.
fw_scenes_match() {
  local start end closes
  closes=$(grep -ac 'closed:' "$FW_LOG" || true)
  start=$(lab seq)
  lab interval 150
  lab wait-seq $((start + 20)) --timeout 120 > /dev/null || { lab interval 0; fail "guest did not draw 20 scenes"; }
  fw_scenes_stop
  end=$(lab seq)
  emu_alive "$(dirname "$FW_LOG")" || fail "the emulated client exited"
  [ "$(grep -ac 'closed:' "$FW_LOG" || true)" = "$closes" ] || { grep -a 'closed:' "$FW_LOG"; fail "the client lost its connection during the scene changes"; }
  fw_expect_desktop 20
  echo "$((end - start)) scene changes; client screen (centred ${LAB_RESOLUTION}) == server screendump (try $FW_MATCH_TRY)"
}

# fw_input TAG: text typed into the client QEMU reaches the guest through the firmware.
fw_input() {
  fw_client_ensure "$1"
  local since text='typed via barespice firmware 42'
  since=$(lab lines)
  echo "+ qmp (client) type '$text' (80 ms between keys)"
  fw_qmp type "$text" --delay-ms 80
  lab wait-typed "$text" --since-line "$since" --timeout 30
  echo "guest serial shows: TYPED: $text"
}

# fw_reconnect TAG: kill the server, see the client notice, restart the server
# (same port and flags), and time how long until the client shows its screen again.
fw_reconnect() {
  fw_client_ensure "$1"
  local n pid t_listen t_ready lab_pid a b dl=5000 server="$CASE_DIR/server.png"
  fw_expect_desktop 10
  n=$(wc -l < "$FW_LOG")
  pid=$(cat "$LAB_PIDFILE")
  echo "killing the lab server (pid $pid, port $LAB_PORT)"
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; sleep 0.5; }
  local t0=$SECONDS
  until after_line "$FW_LOG" "$n" 'reconnecting in'; do
    [ $((SECONDS - t0)) -lt 30 ] || { tail -n 20 "$FW_LOG"; fail "the client did not log 'reconnecting' within 30 s"; }
    sleep 0.2
  done
  echo "client log: $(tail -n +"$((n + 1))" "$FW_LOG" | grep -am1 'closed:')"
  echo "client log: $(tail -n +"$((n + 1))" "$FW_LOG" | grep -am1 'reconnecting in')"
  fw_qmp screendump "$CASE_DIR/reconnecting.png"
  if fw_match "$CASE_DIR/reconnecting.png" "$server" > /dev/null; then
    fail "the client still shows the desktop after the server died"
  fi
  echo "client screen while the server is down differs from the desktop (status screen: $CASE_DIR/reconnecting.png)"

  echo "+ scripts/lab-server --port $LAB_PORT --run-dir $LAB_RUN_DIR --daemon $LAB_FLAGS"
  # shellcheck disable=SC2086
  "$REPO/scripts/lab-server" --port "$LAB_PORT" --run-dir "$LAB_RUN_DIR" --daemon $LAB_FLAGS \
    > "$CASE_DIR/lab-server.log" 2>&1 &
  lab_pid=$!
  t0=$SECONDS
  until ss -Hltn "sport = :$LAB_PORT" | grep -q .; do
    kill -0 "$lab_pid" 2>/dev/null || { cat "$CASE_DIR/lab-server.log"; fail "the lab server did not restart"; }
    [ $((SECONDS - t0)) -lt 60 ] || fail "the restarted lab server does not listen"
    sleep 0.05
  done
  t_listen=$(now_ms)
  # Informational: when the firmware's log says it drew the first frame again.
  ( for _ in $(seq 1 900); do
      after_line "$FW_LOG" "$n" 'timeline: first frame' && { now_ms > "$CASE_DIR/first-frame.ms"; break; }
      sleep 0.1
    done ) &
  local frame_watch=$!
  # From listening on: the server's live screen (boot console, then the scene).
  local qmp_sock watch="$CASE_DIR/watch" out
  qmp_sock=$(sed -n 's/^LAB_QMP=//p' "$LAB_RUN_DIR/lab.env")
  mkdir -p "$watch/listen" "$watch/scene"
  out=$(fw_watch "$qmp_sock" "$t_listen" 60 "$watch/listen") || true
  echo "$out" | sed 's/^/  after listen: /'
  a=$(echo "$out" | sed -n 's/^+\([0-9]*\) ms: client ==.*/\1/p')
  wait "$lab_pid" || { tail -n 20 "$CASE_DIR/lab-server.log"; fail "the restarted lab server did not come up"; }
  t_ready=$(now_ms)
  # The guest's first scene is drawn (lab-server --daemon returned); the client must show it too.
  out=$(fw_watch "$qmp_sock" "$t_ready" 30 "$watch/scene") || true
  echo "$out" | sed 's/^/  after first scene: /'
  b=$(echo "$out" | sed -n 's/^+\([0-9]*\) ms: client ==.*/\1/p')
  tail -n +"$((n + 1))" "$FW_LOG" | grep -a -E 'closed:|reconnecting in|timeline: (linked|first frame)|remote display' | sed 's/^/  client log: /' || true
  [ -n "$a" ] || fail "the client never showed the restarted server's screen"
  [ -n "$b" ] || fail "the client does not show the restarted guest's first scene"
  kill "$frame_watch" 2>/dev/null || true
  [ -s "$CASE_DIR/first-frame.ms" ] &&
    echo "firmware logged 'timeline: first frame' $(( $(cat "$CASE_DIR/first-frame.ms") - t_listen )) ms after the server listened"
  echo "server listening -> client pixel-exact: $a ms; guest's first scene -> client pixel-exact: $b ms (reconnect-max=$FW_RECONNECT_MAX)"
  [ "$a" -le "$dl" ] || fail "client took $a ms (> $dl ms) after the server listened again"
  [ "$b" -le "$dl" ] || fail "client took $b ms (> $dl ms) after the guest's first scene"
  echo "reconnect: desktop back $a ms after listen, $b ms after first scene (deadline ${dl} ms, spice.reconnect-max=$FW_RECONNECT_MAX)"
}

# fw_timeline TAG: scripts/boot-timeline of the client's log (informational).
fw_timeline() {
  local log
  log=$(fw_dir "$1")/serial.log
  [ -s "$log" ] || return 0
  echo "firmware boot timeline (fw-snapshot-$1 client, $log):"
  "$PY" "$REPO/scripts/boot-timeline" --log "$log" | sed 's/^/  /' || true
}

# firmware_cases: the fw-* cases, grouped so that each server configuration
# boots once and one emulated client serves all of its cases. The "off" group
# runs last so the server it leaves behind is shared with the first group of
# all_cases (tests/e2e/cases.sh); its client is stopped first (a second SPICE
# client would take the session over).
firmware_cases() {
  any_selected fw-snapshot-off fw-snapshot-lz fw-input fw-reconnect || return 0
  local t0=$SECONDS
  fw_build
  run_case fw-snapshot-lz "--image-compression lz" fw_snapshot lz
  selected fw-snapshot-lz && fw_timeline lz
  fw_client_stop lz
  run_case fw-snapshot-off "--image-compression off" fw_snapshot off
  selected fw-snapshot-off && fw_timeline off
  run_case fw-input "--image-compression off" fw_input off
  run_case fw-reconnect "--image-compression off" fw_reconnect off
  fw_client_stop off
  echo "firmware section: $((SECONDS - t0)) s"
}
