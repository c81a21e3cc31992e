# shellcheck shell=bash
# End-to-end cases, sourced by scripts/test (harness: tests/e2e/lib.sh).
#
# Owns: what each case does against the lab server. Every expected picture is
# QEMU's own screendump taken while the guest's scene is static (the guest
# prints "SCENE k DONE seq" once a scene is fully written; see scripts/guest/init).
# Must not: start or stop the lab server itself (run_case does that).

# The issue-3 codec matrix case bodies (matrix_case, matrix_mjpeg).
# shellcheck source=tests/e2e/matrix.sh
. "$REPO/tests/e2e/matrix.sh"

# rig_reference: the lab server itself, checked with the public spice-glib
# client (shared/tools/spice-snap.c): its picture after live scene changes must
# equal the screendump, and the screen must be static (two dumps 1 s apart).
rig_reference() {
  local src="" d
  for d in "$REPO/../shared/tools" /work/shared/tools; do
    [ -f "$d/spice-snap.c" ] && { src="$d/spice-snap.c"; break; }
  done
  [ -n "$src" ] || skip "no shared/tools/spice-snap.c here"
  pkg-config --exists spice-client-glib-2.0 || skip "libspice-client-glib-2.0-dev is not installed"
  local bin="$REPO/.cache/tools/spice-snap"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    mkdir -p "$REPO/.cache/tools"
    # shellcheck disable=SC2046
    gcc -O2 -o "$bin" "$src" $(pkg-config --cflags --libs spice-client-glib-2.0)
  fi
  lab stable-dump "$CASE_DIR/a.png"
  sleep 1
  lab stable-dump "$CASE_DIR/b.png"
  imgcmp "$CASE_DIR/a.png" "$CASE_DIR/b.png" || fail "the guest display is not static"
  "$bin" 127.0.0.1 "$LAB_PORT" 7 "$CASE_DIR/spice-snap.ppm" &
  local pid=$!
  sleep 1.5
  lab scene next
  lab scene next
  lab scene next
  wait "$pid" || fail "spice-snap failed"
  expect_same "$CASE_DIR/spice-snap.ppm"
  echo "spice-snap picture == screendump after 3 live scene changes"
}

# rig_typing: the guest's keyboard path without our client: keys sent with QMP
# input-send-event (PS/2) come back on serial as "TYPED: ..." lines.
rig_typing() {
  local since
  since=$(lab lines)
  qmp type 'rig check 123'
  lab wait-typed 'rig check 123' --since-line "$since" --timeout 30
  echo "QMP keys reached the guest console"
}

# snapshot [CLIENT ARGS...]: case (a) and the codec matrix. The client connects,
# the guest then draws two new scenes, and once the display has been quiet the
# client's snapshot must equal the screendump pixel for pixel.
snapshot() {
  lab scene next
  client --snapshot "$CASE_DIR/snap.png" --idle-ms 3000 --timeout-s 90 "$@" &
  local pid=$! rc=0
  sleep 1.5
  lab scene next
  lab scene next
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "client exited with $rc"
  expect_same "$CASE_DIR/snap.png"
  echo "snapshot == screendump ($(lab seq) scenes drawn so far)"
}

# snapshot_psnr MIN_DB [CLIENT ARGS...]: like snapshot, for lossy codecs (JPEG).
snapshot_psnr() {
  local min=$1
  shift
  lab scene next
  client --snapshot "$CASE_DIR/snap.png" --idle-ms 3000 --timeout-s 90 "$@" &
  local pid=$! rc=0
  sleep 1.5
  lab scene next
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "client exited with $rc"
  expect_psnr "$CASE_DIR/snap.png" "$min"
}

# continuous: case (b). The guest changes scene on a timer at least 20 times
# while the client stays connected; its final snapshot must equal the final
# screendump.
continuous() {
  local start pid rc=0 end
  start=$(lab seq)
  client --snapshot "$CASE_DIR/snap.png" --idle-ms 4000 --timeout-s 240 &
  pid=$!
  sleep 1.5
  lab interval 150
  lab wait-seq $((start + 20)) --timeout 120 || { lab interval 0; fail "guest did not draw 20 scenes"; }
  lab interval 0
  kill -0 "$pid" 2>/dev/null || fail "client exited before the 20 scene changes were over"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "client exited with $rc"
  end=$(lab seq)
  expect_same "$CASE_DIR/snap.png"
  echo "$((end - start)) scene changes while connected; final snapshot == screendump"
}

# typing: case (c). Keys sent by the client reach the guest's console.
typing() {
  local since
  since=$(lab lines)
  client --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60 --type 'hello barespice'
  lab wait-typed 'hello barespice' --since-line "$since" --timeout 30
  echo "guest serial shows: TYPED: hello barespice"
}

# password_right: case (d), the right password connects and snapshots.
password_right() {
  client --password-file "$E2E_OUT/pw-right.txt" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60
  expect_same "$CASE_DIR/snap.png"
  echo "right password: snapshot == screendump"
}

# password_wrong: case (d), a wrong password exits non-zero with a clear message.
password_wrong() {
  local rc=0
  client --password-file "$E2E_OUT/pw-wrong.txt" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 \
    --timeout-s 60 2> "$CASE_DIR/stderr" || rc=$?
  cat "$CASE_DIR/stderr"
  [ "$rc" != 0 ] || fail "client accepted a wrong password (exit 0)"
  [ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "client hung on a wrong password (killed by timeout)"
  [ -s "$CASE_DIR/stderr" ] || fail "client printed no error message"
  grep -Eiq 'permission|password' "$CASE_DIR/stderr" || fail "message does not mention permission/password"
  ! grep -Eiq 'cannot read|no such file' "$CASE_DIR/stderr" || fail "client failed on the password file, not at the server"
  [ ! -e "$CASE_DIR/snap.png" ] || fail "client wrote a snapshot despite the wrong password"
  echo "wrong password: exit $rc, \"$(head -n1 "$CASE_DIR/stderr")\""
}

# sd_image: the Raspberry Pi SD card image (issue 5): build it (raspi firmware,
# Debian's raspi-firmware blobs, our device trees), check it with mtools, and boot
# its own kernel + device trees + .vv on QEMU raspi3b/raspi4b.
sd_image() {
  "$REPO/scripts/build-image" --out "$CASE_DIR"
  "$REPO/scripts/check-image" --boot "$CASE_DIR/barespice-sd.img"
}

# raspi_qemu: the Raspberry Pi board support on QEMU raspi3b and raspi4b (console,
# USB enumeration, CDC-ECM DHCP, keyboard and tablet, framebuffer); no lab server.
raspi_qemu() {
  "$REPO/scripts/test-raspi" --keep "$CASE_DIR"
}

# raspi-typing (the Pi's USB keyboard into the lab guest) is in tests/e2e/raspi.sh,
# on the emulated raspi3b that serves the other Pi cases.

# all_cases MATRIX: the cases of issue 2, and with MATRIX=1 the codec matrix of
# issue 3 (tests/e2e/matrix.sh: every server image-compression setting
# pixel-exact, the client's LZ4 preference, zlib-wrapped GLZ, JPEG and MJPEG
# streams with PSNR >= 32 dB, each checking that its image type arrived).
# Cases are grouped so that each server configuration boots once.
all_cases() {
  local matrix=$1 c
  run_case sd-image none sd_image
  run_case raspi-qemu none raspi_qemu
  run_case rig-spice-snap-off "--image-compression off" rig_reference
  run_case rig-typing "--image-compression off" rig_typing
  run_case snapshot-off "--image-compression off" snapshot
  run_case continuous "--image-compression off" continuous
  run_case input "--image-compression off" typing
  [ "$matrix" != 1 ] || run_case matrix-off "--image-compression off" matrix_case exact BITMAP ""
  run_case rig-spice-snap-lz "--image-compression lz" rig_reference
  run_case snapshot-lz "--image-compression lz" snapshot
  [ "$matrix" != 1 ] || run_case matrix-lz "--image-compression lz" matrix_case exact LZ_RGB BITMAP
  printf 'barespice-lab-pw' > "$E2E_OUT/pw-right.txt"
  printf 'not-the-password' > "$E2E_OUT/pw-wrong.txt"
  run_case password-right "--password-file $E2E_OUT/pw-right.txt" password_right
  run_case password-wrong "--password-file $E2E_OUT/pw-right.txt" password_wrong
  [ "$matrix" = 1 ] || return 0
  # Besides the codec a setting is about, the server legitimately sends BITMAP
  # (images too small to compress, or a codec that did not shrink the data:
  # LZ4 on photo grain does that often), LZ_RGB for GLZ settings (images
  # without a drawable, e.g. the screen sent on connect), GLZ_RGB when the
  # zlib wrap did not shrink it, and QUIC beside JPEG for images it may not
  # send lossy.
  run_case matrix-quic "--image-compression quic" matrix_case exact QUIC BITMAP
  run_case matrix-glz "--image-compression glz" matrix_case exact GLZ_RGB "LZ_RGB BITMAP"
  run_case matrix-auto_lz "--image-compression auto_lz" matrix_case exact "LZ_RGB QUIC" BITMAP
  run_case matrix-auto_glz "--image-compression auto_glz" matrix_case exact "GLZ_RGB QUIC" "LZ_RGB BITMAP"
  # auto_glz is still up: LZ4 only arrives when the client prefers it.
  run_case matrix-lz4 "--image-compression auto_glz" matrix_case exact LZ4 "LZ_RGB BITMAP" --compression lz4
  run_case matrix-zlib-glz "--image-compression glz --zlib-glz-wan-compression always" \
    matrix_case exact ZLIB_GLZ_RGB "GLZ_RGB LZ_RGB BITMAP"
  run_case matrix-jpeg "--image-compression auto_glz --jpeg-wan-compression always" \
    matrix_case 32 JPEG "GLZ_RGB QUIC LZ_RGB BITMAP"
  # MJPEG streams: QXL device + its guest driver, video detection on.
  run_case matrix-mjpeg "--vga qxl --streaming-video all" matrix_mjpeg
}
