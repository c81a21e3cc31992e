# shellcheck shell=bash
# Raspberry Pi end-to-end cases (issue 5), sourced by scripts/test after
# tests/e2e/lib.sh (run_case, the shared lab server, lab/qmp/imgcmp helpers).
#
# Owns: building the raspi firmware once for the section, one emulated Pi per
# board (scripts/emulate --board raspi3b|raspi4b, kept running across that
# board's cases; it reaches the host's 127.0.0.1:P at 10.0.2.2:P over USB
# CDC-ECM), and what these cases check:
#   raspi3b-snapshot / raspi4b-snapshot  after scene changes, the Pi's QMP
#       screendump, cropped to the remote desktop the firmware centres 1:1 in its
#       1280x800 mailbox framebuffer, equals the server's screendump pixel for
#       pixel, and the session never closed
#   raspi-usb-hub   (raspi3b) an explicit usb-hub on the root port with usb-kbd,
#       usb-mouse and usb-net on its ports 1, 2 and 3 (usb-tablet on 4): the
#       firmware's log shows each enumerated on that hub's port and bound to
#       its class driver, and DHCP bound over the CDC-ECM function
#   raspi-typing    (raspi3b) text typed on the Pi's USB keyboard (QMP key
#       events into the raspi machine) reaches the lab guest's console
#       ("TYPED: ..."), over the session running on USB CDC-ECM
#   raspi-usb-replug (raspi3b) during the live session the keyboard is removed
#       (QMP device_del) and plugged into the same hub port again (device_add);
#       the firmware detaches and re-binds it, the session never closes or
#       reconnects, text typed afterwards reaches the guest ("TYPED: ..."), and
#       the display still equals the server's screendump after a scene change
# Expected pictures are always the server's own screendump.
# Must not: start or stop the lab server (run_case does), or run both Pi
# clients at once (a second SPICE client takes the session over, and the first
# one would reconnect and take it back).
#
# raspi3b carries the hub topology (snapshot, hub, typing and replug share its
# client); raspi4b runs scripts/emulate's default devices (usb-kbd, usb-tablet, usb-net,
# which QEMU itself hangs on an automatic hub: the DWC2 has one root port).
# QEMU 10 limits: unplugging usb-net aborts QEMU itself, so only the keyboard
# is replugged.

RP_SERVER="--image-compression off"
# Bigger than the lab guest's 1024x768 so the whole desktop shows, centred.
RP_FB_W=1280
RP_FB_H=800
RP_USB_raspi3b="usb-hub,id=hub0,port=1 usb-kbd,id=kbd0,port=1.1 usb-mouse,id=mouse0,port=1.2"
RP_USB_raspi3b+=" usb-net,netdev=net0,port=1.3 usb-tablet,id=tablet0,port=1.4"
RP_USB_raspi4b="usb-kbd usb-tablet usb-net,netdev=net0"
RP_BUILD_ERROR=""
RP_IMAGE="$REPO/out/firmware/raspi/Image"

# rp_build: scripts/build-firmware --board raspi once for the section (parent shell).
rp_build() {
  echo "--- build firmware (scripts/build-firmware --board raspi)"
  if "$REPO/scripts/build-firmware" --board raspi > "$E2E_OUT/build-firmware-raspi.log" 2>&1; then
    echo "raspi firmware: $(tail -n1 "$E2E_OUT/build-firmware-raspi.log") ($(stat -c %s "$RP_IMAGE") bytes)"
  else
    RP_BUILD_ERROR="scripts/build-firmware --board raspi failed (see $E2E_OUT/build-firmware-raspi.log)"
    echo "$RP_BUILD_ERROR"
    tail -n 15 "$E2E_OUT/build-firmware-raspi.log" | sed 's/^/    /'
  fi
}

# ---- the emulated Pi (one per board) ----------------------------------------------

rp_dir() { echo "$E2E_OUT/rp-client-$1"; }

rp_alive() { emu_alive "$(rp_dir "$1")"; }

# rp_client_ensure BOARD: make sure the Pi runs against the current lab server
# and shows its first frame; sets RP_QMP and RP_LOG.
rp_client_ensure() {
  local board=$1 dir usb_var="RP_USB_$1"
  dir=$(rp_dir "$board")
  RP_QMP=$dir/qmp.sock
  RP_LOG=$dir/serial.log
  [ -z "$RP_BUILD_ERROR" ] || fail "$RP_BUILD_ERROR"
  [ -f "$RP_IMAGE" ] || fail "no firmware at $RP_IMAGE (the build step did not run)"
  emu_start "$dir" "$board" "$board" 150 -- \
    --append "spice.resolution=${RP_FB_W}x${RP_FB_H} barespice.display=1:1" --usb "${!usb_var}" --no-reboot --timeout 900
}

# rp_client_stop BOARD: QMP quit, then the process group if it lingers.
rp_client_stop() { emu_stop "$(rp_dir "$1")"; }

rp_clients_stop() {
  rp_client_stop raspi3b
  rp_client_stop raspi4b
}

rp_qmp() { "$PY" "$REPO/scripts/lib/qmp.py" "$RP_QMP" "$@"; }

# rp_log_after N REGEX: the first line after line N of the Pi's log matching REGEX.
rp_log_after() { awk -v n="$1" -v re="$2" 'NR > n && $0 ~ re { print; f = 1; exit } END { exit !f }' "$RP_LOG"; }

# rp_wait_log N REGEX SECS WHAT: wait until the Pi logs REGEX after line N.
rp_wait_log() {
  local t0=$SECONDS
  until rp_log_after "$1" "$2" > /dev/null; do
    [ $((SECONDS - t0)) -lt "$3" ] || { tail -n 15 "$RP_LOG"; fail "$4 (no '$2' in the Pi's log within $3 s)"; }
    sleep 0.3
  done
  echo "Pi log: $(rp_log_after "$1" "$2")"
}

# rp_session_intact N: the session neither closed nor reconnected after line N.
rp_session_intact() {
  if rp_log_after "$1" 'closed:|reconnecting in|timeline: linked' > "$CASE_DIR/closed.txt"; then
    fail "the SPICE session was interrupted: $(cat "$CASE_DIR/closed.txt")"
  fi
}

# rp_expect_desktop TRIES: once the server's display is static, the Pi's screen
# (the centred 1:1 desktop) must equal it; up to TRIES client dumps 1 s apart.
rp_expect_desktop() {
  local tries=$1 i w=${LAB_RESOLUTION%x*} h=${LAB_RESOLUTION#*x}
  local server="$CASE_DIR/server.png" client="$CASE_DIR/client.png"
  local box="$(((RP_FB_W - w) / 2)),$(((RP_FB_H - h) / 2)),$w,$h"
  lab stable-dump "$server"
  for i in $(seq 1 "$tries"); do
    rp_qmp screendump "$client"
    if imgcmp "$client" "$server" --crop "$box" --crop-b "0,0,$w,$h" > "$CASE_DIR/match.txt" 2>&1; then
      echo "Pi screen at $box == server screendump (try $i)"
      return 0
    fi
    sleep 1
  done
  cat "$CASE_DIR/match.txt"
  imgcmp find "$server" "$client" || true
  fail "the Pi's screen does not show the server's screendump at $box (after $tries tries; pictures in $CASE_DIR)"
}

# ---- cases -------------------------------------------------------------------------

# rp_snapshot BOARD: scene changes while connected, then the Pi shows the server's screen.
rp_snapshot() {
  rp_client_ensure "$1"
  local n start k
  n=$(wc -l < "$RP_LOG")
  start=$(lab seq)
  for k in 1 2 3 4 5; do lab scene next > /dev/null; sleep 0.3; done
  rp_expect_desktop 40
  rp_alive "$1" || fail "the emulated $1 exited"
  rp_session_intact "$n"
  echo "$1: $(($(lab seq) - start)) scene changes; its ${RP_FB_W}x${RP_FB_H} framebuffer shows the ${LAB_RESOLUTION} desktop pixel-exact"
}

# rp_expect_bound HUB PORT NAME BIND: the Pi's log shows the device NAME
# enumerated on port PORT of hub HUB and bound as BIND (e.g. "boot keyboard").
rp_expect_bound() {
  local line dev
  line=$(grep -aEm1 "usb: device [0-9]+ .*$3\" on hub $1 port $2\$" "$RP_LOG") ||
    fail "no '$3' enumerated on hub $1 port $2"
  echo "$line"
  dev=$(sed -E 's/.*usb: device ([0-9]+) .*/\1/' <<< "$line")
  grep -aEm1 "usb: $4 at $dev " "$RP_LOG" || fail "'$3' (device $dev) was not bound as $4"
}

# rp_usb_hub: the raspi3b client's boot log shows the explicit hub and the
# devices on its ports bound to their drivers, and a DHCP lease.
rp_usb_hub() {
  rp_client_ensure raspi3b
  local hub port name bind line
  line=$(grep -aEm1 'usb: device [0-9]+ .*"QEMU USB Hub" on root port$' "$RP_LOG") ||
    fail "no QEMU USB Hub enumerated on the root port"
  echo "$line"
  hub=$(sed -E 's/.*usb: device ([0-9]+) .*/\1/' <<< "$line")
  grep -aEm1 "usb: hub $hub with [0-9]+ ports" "$RP_LOG" || fail "hub $hub was not bound"
  for bind in "1|QEMU USB Keyboard|boot keyboard" "2|QEMU USB Mouse|relative pointer" \
              "3|QEMU USB Network Device|CDC-ECM ethernet" "4|QEMU USB Tablet|absolute pointer"; do
    IFS='|' read -r port name bind <<< "$bind"
    rp_expect_bound "$hub" "$port" "$name" "$bind"
  done
  if grep -aE 'usb: device [0-9]+ .* on root port$' "$RP_LOG" | grep -av '"QEMU USB Hub"'; then
    fail "a device other than the hub hangs on the root port"
  fi
  grep -aEm1 'timeline: dhcp bound 10\.0\.2\.[0-9]+/24' "$RP_LOG" || fail "no DHCP lease over the CDC-ECM function behind the hub"
  echo "hub $hub on the root port; keyboard, mouse, network (and tablet) enumerated on its ports 1-4 and bound; DHCP bound"
}

# rp_typing: keys on the Pi's USB keyboard reach the guest (without Enter: the
# guest ends a line after 2 s without a key).
rp_typing() {
  rp_client_ensure raspi3b
  local since n
  n=$(wc -l < "$RP_LOG")
  since=$(lab lines)
  echo "+ qmp (Pi) type 'hello pi' (no Enter)"
  rp_qmp type 'hello pi' --no-enter
  lab wait-typed 'hello pi' --since-line "$since" --timeout 30 ||
    fail "the lab guest did not see 'hello pi' typed on raspi3b's USB keyboard"
  rp_session_intact "$n"
  echo "guest serial shows: TYPED: hello pi (typed on QEMU raspi3b's USB keyboard, session over USB CDC-ECM)"
}

# rp_usb_replug: unplug and re-plug the keyboard during the live session.
rp_usb_replug() {
  rp_client_ensure raspi3b
  local n text='typed after replug 42'
  rp_expect_desktop 20
  n=$(wc -l < "$RP_LOG")
  echo "+ qmp (Pi) device_del kbd0"
  rp_qmp device_del kbd0
  rp_wait_log "$n" 'usb: keyboard at [0-9]+ detached' 30 "the firmware did not notice the keyboard leaving"
  rp_qmp hmp 'info usb' | grep -q 'ID: kbd0' && fail "QEMU still lists kbd0 after device_del"
  kbd_replug_type rp_qmp rp_wait_log "$n" "$text" port=1.1
  lab scene next > /dev/null
  rp_expect_desktop 40
  rp_session_intact "$n"
  echo "keyboard unplugged and re-plugged during the session: no close or reconnect, typing works, display pixel-exact"
}

# raspi_cases: the Pi cases; each board's client serves its cases and is
# stopped before the other board's starts.
raspi_cases() {
  any_selected raspi3b-snapshot raspi-usb-hub raspi-typing raspi-usb-replug raspi4b-snapshot || return 0
  local t0=$SECONDS prev
  # Stop the Pi clients on any exit too, before whatever the EXIT trap did so far.
  prev=$(trap -p EXIT)
  prev=${prev#trap -- }
  eval "prev=${prev% EXIT}"
  # shellcheck disable=SC2064
  trap "rp_clients_stop; ${prev:-:}" EXIT
  rp_build
  run_case raspi3b-snapshot "$RP_SERVER" rp_snapshot raspi3b
  run_case raspi-usb-hub "$RP_SERVER" rp_usb_hub
  run_case raspi-typing "$RP_SERVER" rp_typing
  run_case raspi-usb-replug "$RP_SERVER" rp_usb_replug
  rp_client_stop raspi3b
  run_case raspi4b-snapshot "$RP_SERVER" rp_snapshot raspi4b
  rp_client_stop raspi4b
  echo "raspi section: $((SECONDS - t0)) s"
}
