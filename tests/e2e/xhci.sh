# shellcheck shell=bash
# xHCI end-to-end cases (issue 8), sourced by scripts/test after tests/e2e/lib.sh
# and tests/e2e/firmware.sh (run_case, the shared lab server, lab/qmp helpers,
# fw_scenes_match / fw_qmp / after_line).
#
# Owns: one emulated client on `scripts/emulate --board virt-xhci` (QEMU virt,
# qemu-xhci on PCIe, a usb-hub on root port 1 carrying usb-kbd (kbd0, port 1.1),
# usb-tablet (port 1.2) and usb-net (port 1.3); no virtio-net/-input), kept
# running across these cases, and what they check:
#   virt-xhci-snapshot  the firmware found the xHCI over PCIe and enumerated the
#       hub and the three devices behind it; after >= 20 timed scene changes the
#       client's QMP screendump, cropped to the centred remote desktop, equals
#       the server's screendump pixel for pixel, the session never closed
#   virt-xhci-input     keys typed into the client QEMU (QMP input-send-event to
#       its usb-kbd) come back on the guest's serial as "TYPED: ..."; absolute
#       moves on its usb-tablet reach the server's QEMU as pointer input events
#       (its input_event_rel/abs trace events, switched on through HMP)
#   virt-xhci-replug    during the live session the keyboard is removed (QMP
#       device_del) and added again on hub port 1.1 (device_add); the firmware
#       detaches and re-binds it, the session never closes or reconnects, text
#       typed afterwards reaches the guest, and the display still equals the
#       server's screendump after a scene change
# Expected pictures are always the server's own screendump.
# Must not: start or stop the lab server (run_case does); run while another
# firmware client is connected to the same server (it would take the session
# over): firmware.sh and raspi.sh stop theirs before this section starts.

XH_SERVER="--image-compression off"
XH_BUILD_ERROR=""
XH_DIR="$E2E_OUT/xhci-client"

xh_build() {
  echo "--- build firmware (scripts/build-firmware --board virt) for virt-xhci"
  if ! "$REPO/scripts/build-firmware" --board virt > "$E2E_OUT/build-firmware-xhci.log" 2>&1; then
    XH_BUILD_ERROR="scripts/build-firmware failed (see $E2E_OUT/build-firmware-xhci.log)"
    echo "$XH_BUILD_ERROR"
  fi
}

# xh_client_ensure: the virt-xhci client runs against the current lab server
# and shows its first frame; sets FW_QMP and FW_LOG (the fw_* picture helpers
# use them).
xh_client_ensure() {
  FW_QMP=$XH_DIR/qmp.sock
  FW_LOG=$XH_DIR/serial.log
  [ -z "$XH_BUILD_ERROR" ] || fail "$XH_BUILD_ERROR"
  emu_start "$XH_DIR" virt-xhci "virt-xhci client" 150 -- --append "barespice.display=1:1" --timeout 900
}

xh_client_stop() { emu_stop "$XH_DIR"; }

# xh_wait_log N REGEX SECS WHAT: wait until the client logs REGEX after line N
# (after_line is firmware.sh's); prints that line.
xh_wait_log() {
  local t0=$SECONDS
  until after_line "$FW_LOG" "$1" "$2"; do
    [ $((SECONDS - t0)) -lt "$3" ] || { tail -n 15 "$FW_LOG"; fail "$4 (no '$2' in the client's log within $3 s)"; }
    sleep 0.3
  done
  echo "client log: $(tail -n +"$(($1 + 1))" "$FW_LOG" | grep -aEm1 "$2")"
}

# xh_session_intact N: the session neither closed nor reconnected after line N.
xh_session_intact() {
  ! after_line "$FW_LOG" "$1" 'closed:|reconnecting in|timeline: linked' ||
    fail "the SPICE session was interrupted: $(tail -n +"$(($1 + 1))" "$FW_LOG" | grep -aEm1 'closed:|reconnecting in|timeline: linked')"
}

# xh_need LINE-REGEX WHAT: the client's log has a line matching; prints it.
xh_need() { grep -aEm1 "$1" "$FW_LOG" || fail "$2 (no '$1' in $FW_LOG)"; }

xh_snapshot() {
  xh_client_ensure
  xh_need 'pci: [0-9a-f:.]+ 1b36:000d class 0c0330' "no qemu-xhci found on the PCIe bus"
  xh_need 'xhci: version [0-9]+\.[0-9]+, [0-9]+ slots, [0-9]+ ports' "the xHCI did not report its version"
  local hub line name
  line=$(xh_need 'usb: device [0-9]+ .*"QEMU USB Hub" on root port$' "no hub on a root port")
  hub=$(sed -E 's/.*usb: device ([0-9]+) .*/\1/' <<< "$line")
  for name in "1|QEMU USB Keyboard" "2|QEMU USB Tablet" "3|QEMU USB Network Device"; do
    xh_need "usb: device [0-9]+ .*${name#*|}\" on hub $hub port ${name%%|*}\$" "${name#*|} not enumerated behind hub $hub"
  done
  xh_need 'usb: CDC-ECM ethernet at' "usb-net not bound"
  # Every byte of the session goes over the usb-net behind the hub.
  fw_scenes_match
}

# xh_tablet_move X Y: an absolute move (0..32767) on the client's usb-tablet.
xh_tablet_move() {
  fw_qmp cmd input-send-event \
    "{\"events\":[{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":$1}},{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":$2}}]}" > /dev/null
}

xh_input() {
  xh_client_ensure
  local since n text='typed on the xhci keyboard 8' trace="$E2E_OUT/lab-$LAB_PORT/qemu.out" before i
  n=$(wc -l < "$FW_LOG")
  since=$(lab lines)
  echo "+ qmp (client) type '$text' (60 ms between keys)"
  fw_qmp type "$text" --delay-ms 60
  lab wait-typed "$text" --since-line "$since" --timeout 30 ||
    fail "the lab guest did not see '$text' typed on the client's USB keyboard"
  echo "guest serial shows: TYPED: $text"
  # The tablet: watch the server QEMU's input layer while the client's tablet moves.
  qmp hmp 'trace-event input_event_rel on' > /dev/null
  qmp hmp 'trace-event input_event_abs on' > /dev/null
  before=$(grep -ac 'input_event_\(rel\|abs\)' "$trace" || true)
  for i in 1 2 3 4 5 6; do
    xh_tablet_move $((4000 * i)) $((3000 * i))
    sleep 0.3
  done
  sleep 1
  qmp hmp 'trace-event input_event_rel off' > /dev/null
  qmp hmp 'trace-event input_event_abs off' > /dev/null
  local after
  after=$(grep -ac 'input_event_\(rel\|abs\)' "$trace" || true)
  [ "$after" -gt "$before" ] ||
    fail "the server's QEMU saw no pointer input while the client's usb-tablet moved (trace in $trace)"
  grep -a 'input_event_\(rel\|abs\)' "$trace" | tail -n 3 | sed 's/^/server qemu: /'
  xh_session_intact "$n"
  echo "tablet: $((after - before)) pointer input events reached the server's QEMU"
}

xh_replug() {
  xh_client_ensure
  local n text='typed after xhci replug 8'
  n=$(wc -l < "$FW_LOG")
  echo "+ qmp (client) device_del kbd0"
  fw_qmp device_del kbd0
  xh_wait_log "$n" 'usb: keyboard at [0-9]+ detached' 30 "the firmware did not notice the keyboard leaving"
  kbd_replug_type fw_qmp xh_wait_log "$n" "$text" bus=xhci.0 port=1.1
  lab scene next > /dev/null
  fw_expect_desktop 20
  xh_session_intact "$n"
  echo "keyboard unplugged and re-plugged behind the xHCI's hub during the session: no close or reconnect, typing works, display pixel-exact"
}

# xhci_cases: the virt-xhci cases on one client and the "off" lab server.
xhci_cases() {
  any_selected virt-xhci-snapshot virt-xhci-input virt-xhci-replug || return 0
  local t0=$SECONDS prev
  prev=$(trap -p EXIT)
  prev=${prev#trap -- }
  eval "prev=${prev% EXIT}"
  # shellcheck disable=SC2064
  trap "xh_client_stop; ${prev:-:}" EXIT
  xh_build
  run_case virt-xhci-snapshot "$XH_SERVER" xh_snapshot
  run_case virt-xhci-input "$XH_SERVER" xh_input
  run_case virt-xhci-replug "$XH_SERVER" xh_replug
  xh_client_stop
  echo "xhci section: $((SECONDS - t0)) s"
}
