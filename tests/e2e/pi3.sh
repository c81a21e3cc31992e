# shellcheck shell=bash
# Raspberry Pi 3 real-hardware work (issue 9), sourced by scripts/test after
# raspi.sh (it reuses rp_build, RP_IMAGE, RP_SERVER, RP_FB_* and the rp_*
# helpers from there).
#
# Owns: the one check QEMU can make of the DWC2 channel budget:
#   raspi3b-two-hubs  QEMU raspi3b with two chained usb-hubs (hub0 on the root
#       port, hub1 on hub0's port 1) carrying a keyboard and a mouse on hub1,
#       a tablet and usb-net on hub0, all at once: the firmware's log shows both
#       hubs and all four devices enumerated on their hub ports and bound to
#       their class drivers, DHCP binds over the CDC-ECM function, the Pi's
#       screen equals the server's screendump after scene changes, and text
#       typed on the keyboard behind the second hub reaches the lab guest. The
#       driver holds the DWC2 to the real core's 8 host channels (one reserved
#       for control transfers), and there are 8 endpoints to serve here (two
#       hub status pipes, keyboard, mouse, tablet, net interrupt, bulk IN and
#       bulk OUT), so this only works with channels allocated per transfer.
# Split transactions themselves cannot be seen here: QEMU's DWC2 runs every
# device at full speed and its hubs are full-speed hubs (no TT); the split
# state machine is host-tested (board/host-tests, dwc2_split).
# Must not: start or stop the lab server (run_case does), or run while a
# raspi.sh client is up (raspi_cases stops its clients before returning).

P3_USB="usb-hub,id=hub0,port=1 usb-hub,id=hub1,port=1.1"
P3_USB+=" usb-kbd,id=kbd0,port=1.1.1 usb-mouse,id=mouse0,port=1.1.2"
P3_USB+=" usb-tablet,id=tablet0,port=1.2 usb-net,netdev=net0,port=1.3"

p3_two_hubs() {
  [ -z "$RP_BUILD_ERROR" ] || fail "$RP_BUILD_ERROR"
  [ -f "$RP_IMAGE" ] || fail "no firmware at $RP_IMAGE (the build step did not run)"
  local dir="$E2E_OUT/p3-client-two-hubs" line hub0 hub1 hub port name bind since n
  RP_QMP=$dir/qmp.sock
  RP_LOG=$dir/serial.log
  emu_start "$dir" raspi3b "raspi3b with two hubs" 150 -- \
    --append "spice.resolution=${RP_FB_W}x${RP_FB_H} barespice.display=1:1" --usb "$P3_USB" --no-reboot --timeout 600
  line=$(grep -aEm1 'usb: device [0-9]+ .*"QEMU USB Hub" on root port$' "$RP_LOG") ||
    fail "no QEMU USB Hub enumerated on the root port"
  echo "$line"
  hub0=$(sed -E 's/.*usb: device ([0-9]+) .*/\1/' <<< "$line")
  line=$(grep -aEm1 "usb: device [0-9]+ .*\"QEMU USB Hub\" on hub $hub0 port 1\$" "$RP_LOG") ||
    fail "no second QEMU USB Hub enumerated on hub $hub0 port 1"
  echo "$line"
  hub1=$(sed -E 's/.*usb: device ([0-9]+) .*/\1/' <<< "$line")
  for hub in "$hub0" "$hub1"; do
    grep -aEm1 "usb: hub $hub with [0-9]+ ports" "$RP_LOG" || fail "hub $hub was not bound"
  done
  for bind in "$hub1|1|QEMU USB Keyboard|boot keyboard" "$hub1|2|QEMU USB Mouse|relative pointer" \
              "$hub0|2|QEMU USB Tablet|absolute pointer" "$hub0|3|QEMU USB Network Device|CDC-ECM ethernet"; do
    IFS='|' read -r hub port name bind <<< "$bind"
    rp_expect_bound "$hub" "$port" "$name" "$bind"
  done
  grep -aEm1 'timeline: dhcp bound 10\.0\.2\.[0-9]+/24' "$RP_LOG" || fail "no DHCP lease over usb-net behind the hub"
  n=$(wc -l < "$RP_LOG")
  for _ in 1 2 3; do lab scene next > /dev/null; sleep 0.3; done
  rp_expect_desktop 40
  since=$(lab lines)
  echo "+ qmp (Pi) type 'two hubs' (no Enter)"
  rp_qmp type 'two hubs' --no-enter
  lab wait-typed 'two hubs' --since-line "$since" --timeout 30 ||
    fail "the lab guest did not see 'two hubs' typed on the keyboard behind the second hub"
  rp_session_intact "$n"
  if grep -aE 'FATAL:|EXCEPTION |did not halt' "$RP_LOG" > "$CASE_DIR/bad.txt"; then
    fail "the firmware logged: $(head -n3 "$CASE_DIR/bad.txt")"
  fi
  echo "two chained hubs; keyboard, mouse, tablet and usb-net enumerated and bound at once; DHCP, display and typing work"
}

pi3_cases() {
  any_selected raspi3b-two-hubs || return 0
  local prev
  prev=$(trap -p EXIT)
  prev=${prev#trap -- }
  eval "prev=${prev% EXIT}"
  # shellcheck disable=SC2064
  trap "emu_stop '$E2E_OUT/p3-client-two-hubs'; ${prev:-:}" EXIT
  rp_build # incremental: quick when raspi.sh's cases just built it
  run_case raspi3b-two-hubs "$RP_SERVER" p3_two_hubs
  emu_stop "$E2E_OUT/p3-client-two-hubs"
}
