# shellcheck shell=bash
# Hardware-in-the-loop rig cases (issue 13), sourced by scripts/test after
# tests/e2e/lib.sh (run_case, the shared lab server).
#
# Owns: running scripts/rig (the pytest + labgrid suite of tests/rig/) against
# the emulated boards on the shared lab server, and what these cases check:
#   hil-raspi3b   scripts/rig --target emulated-raspi3b, every scenario but
#       server_restart (boot, dhcp_bound, session_linked, picture with 2 scene
#       changes, typing, 1 power cycle): all pass, and the picture checks were
#       decided by the firmware's `frame: WxH sha256=HEX` lines equalling the
#       digest of the server's own screendump
#   hil-virt      scripts/rig --target emulated-virt, all scenarios (2 scene
#       changes, server killed and restarted, 1 power cycle): all pass, decided
#       the same way
#   hil-mismatch  scripts/rig --target emulated-virt -k picture --wrong-scene:
#       the server shows another scene after the rig took its expected digest;
#       the suite must fail with a MISMATCH naming both digests
#   hil-examples  every environment file in tests/rig/targets/ (the emulated ones and
#       the real-Pi examples) loads in labgrid and the rig's strategy binds its
#       power, console and optional SD-mux/video drivers (no driver activated, no
#       hardware touched); a file without a power driver is refused
# The full scenario set on every target runs with scripts/rig (see docs/rig.md).
# Must not: start or stop the shared lab server; the rig restarts it in
# hil-virt's server_restart on purpose, with the same port, run directory and
# flags (as fw-reconnect does), so the harness keeps sharing it.

RIG_SERVER="--image-compression off"

# rig_fw_ready BOARD: build the firmware for BOARD unless out/firmware/BOARD/Image
# is newer than every source it is built from (a full scripts/test run has just
# built both boards in the firmware and raspi sections).
rig_fw_ready() {
  local board=$1 image="$REPO/out/firmware/$1/Image"
  if [ -f "$image" ] && [ -z "$(find "$REPO/boot" "$REPO/board" "$REPO/firmware" "$REPO/spice-core/src" \
       "$REPO/Cargo.lock" -newer "$image" -type f -print -quit)" ]; then
    return 0
  fi
  echo "--- build firmware for the rig (scripts/build-firmware --board $board)"
  "$REPO/scripts/build-firmware" --board "$board" > "$E2E_OUT/build-firmware-rig-$board.log" 2>&1 ||
    { tail -n 15 "$E2E_OUT/build-firmware-rig-$board.log"; return 1; }
}

# rig_run TARGET ARGS...: scripts/rig on the shared lab server, report in
# $CASE_DIR/rig; sets RIG_RC.
rig_run() {
  local target=$1
  shift
  echo "+ scripts/rig --target $target --no-build --out $CASE_DIR/rig $*"
  set +e
  RIG_LAB_ENV=$LAB_ENV \
  RIG_LAB_RESTART="$REPO/scripts/lab-server --port $LAB_PORT --run-dir $LAB_RUN_DIR --daemon $LAB_FLAGS" \
    timeout --kill-after=10 480 "$REPO/scripts/rig" --target "$target" --no-build --out "$CASE_DIR/rig" "$@"
  RIG_RC=$?
  set -e
}

# rig_junit DIR: "tests failures errors skipped" of DIR/junit.xml.
rig_junit() {
  "$PY" -c '
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot()
s = s if s.tag == "testsuite" else s.find("testsuite")
print(*(s.get(k) for k in ("tests", "failures", "errors", "skipped")))' "$1/junit.xml"
}

# rig_expect_pass TARGET MIN_TESTS ARGS...: the suite passes with at least
# MIN_TESTS scenarios run and none skipped, and the picture scenario's checks
# were frame: lines that equal the server's digests.
rig_expect_pass() {
  local target=$1 min=$2
  shift 2
  rig_fw_ready "$(sed -n 's/^ *firmware_board: *\([a-z0-9]*\).*/\1/p' "$REPO/tests/rig/targets/$target.yaml")" ||
    fail "firmware build failed"
  rig_run "$target" "$@"
  [ -f "$CASE_DIR/rig/junit.xml" ] || fail "scripts/rig wrote no junit.xml (exit $RIG_RC)"
  local tests failures errors skipped
  read -r tests failures errors skipped < <(rig_junit "$CASE_DIR/rig")
  [ "$RIG_RC" = 0 ] || fail "scripts/rig exit $RIG_RC: $failures failed, $errors errors (see $CASE_DIR/rig/summary.md)"
  [ "$failures$errors$skipped" = 000 ] || fail "junit: $failures failed, $errors errors, $skipped skipped"
  [ "$tests" -ge "$min" ] || fail "only $tests scenarios ran (want $min)"
  local frames
  frames=$(cat "$CASE_DIR"/rig/serial-boot*.log | grep -c 'frame: [0-9]*x[0-9]* sha256=[0-9a-f]\{64\}' || true)
  [ "$frames" -ge 3 ] || fail "only $frames frame: lines in the board's logs"
  grep -q '^| picture | PASSED |' "$CASE_DIR/rig/summary.md" || fail "summary.md has no passed picture row"
  echo "$target: $tests scenarios passed (junit), $frames frame: digest lines; $(grep '^| picture |' "$CASE_DIR/rig/summary.md" | cut -d'|' -f4 | cut -c1-60)"
}

rig_hil_raspi3b() { rig_expect_pass emulated-raspi3b 6 -k 'not server_restart' --scenes 2 --cycles 1; }
rig_hil_virt() { rig_expect_pass emulated-virt 7 --scenes 2 --cycles 1; }

rig_hil_mismatch() {
  rig_fw_ready virt || fail "firmware build failed"
  rig_run emulated-virt -k picture --wrong-scene
  [ "$RIG_RC" != 0 ] || fail "the suite passed although the board showed another scene than the expected digest's"
  [ -f "$CASE_DIR/rig/junit.xml" ] || fail "scripts/rig wrote no junit.xml (exit $RIG_RC)"
  local tests failures errors skipped
  read -r tests failures errors skipped < <(rig_junit "$CASE_DIR/rig")
  [ "$tests $failures $errors" = "1 1 0" ] || fail "junit: want the picture scenario failed, got tests=$tests failures=$failures errors=$errors"
  local line
  line=$(grep -o 'MISMATCH scene0: board frame [0-9x]* sha256=[0-9a-f]\{64\}, server screendump [0-9x]* sha256=[0-9a-f]\{64\}' \
    "$CASE_DIR/rig/junit.xml" | head -n1)
  [ -n "$line" ] || fail "no MISMATCH line with both digests in junit.xml"
  echo "wrong scene detected: ${line:0:60}..."
}

rig_hil_examples() {
  local py="$REPO/.cache/venv/bin/python" out
  LG_RIG_RUN=$CASE_DIR "$py" "$REPO/tests/rig/check_env.py" "$REPO"/tests/rig/targets/*.yaml ||
    fail "an environment file does not bind"
  printf 'targets:\n  main:\n    resources:\n      RawSerialPort:\n        port: /dev/null\n    drivers:\n      SerialDriver: {}\n      BarespiceStrategy: {}\n' \
    > "$CASE_DIR/no-power.yaml"
  if out=$("$py" "$REPO/tests/rig/check_env.py" "$CASE_DIR/no-power.yaml"); then
    fail "a file without a power driver was accepted: $out"
  fi
  echo "$out"
  echo "$(ls "$REPO"/tests/rig/targets/*.yaml | wc -l) environment files bind; one without power is refused"
}

# rig_cases: the cases on the shared "$RIG_SERVER" lab server (hil-examples needs none).
rig_cases() {
  any_selected hil-examples hil-raspi3b hil-virt hil-mismatch || return 0
  local t0=$SECONDS
  run_case hil-examples none rig_hil_examples
  run_case hil-raspi3b "$RIG_SERVER" rig_hil_raspi3b
  run_case hil-virt "$RIG_SERVER" rig_hil_virt
  run_case hil-mismatch "$RIG_SERVER" rig_hil_mismatch
  echo "rig section: $((SECONDS - t0)) s"
}
