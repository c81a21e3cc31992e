# shellcheck shell=bash
# Raspberry Pi 5 base support (issue 9, item 5), sourced by scripts/test after
# firmware.sh (it uses emu_start, fw_qmp and fw_expect_desktop from there).
#
# Owns: the one check QEMU can make of the Pi 5 path. QEMU has no BCM2712
# machine, so the Pi 5's CPU is what runs here:
#   virt-a76-pi5-cpu  the virt firmware on `-M virt -cpu cortex-a76` (the Pi 5's
#       core; QEMU confirms the CPU model over QMP) boots through its status
#       screen to the remote desktop of the shared lab server: the client's
#       screendump shows the server's own screendump.
# The BCM2712 detection and address table are host-tested in
# board/host-tests (bcm2712::tests); the Pi 5's SoC devices are not emulated.
# Must not: start or stop the shared lab server (run_case does).

P5_DIR="$E2E_OUT/pi5-a76-client"
P5_BUILD_ERROR=""

p5_build() {
  echo "--- build firmware (scripts/build-firmware --board virt) for the Cortex-A76 case"
  if ! "$REPO/scripts/build-firmware" --board virt > "$E2E_OUT/build-firmware-pi5.log" 2>&1; then
    P5_BUILD_ERROR="scripts/build-firmware failed (see $E2E_OUT/build-firmware-pi5.log)"
    echo "$P5_BUILD_ERROR"
  fi
}

p5_a76() {
  [ -z "$P5_BUILD_ERROR" ] || fail "$P5_BUILD_ERROR"
  FW_QMP=$P5_DIR/qmp.sock
  FW_LOG=$P5_DIR/serial.log
  emu_start "$P5_DIR" virt "Cortex-A76 client" 150 -- --cpu cortex-a76 \
    --append "barespice.display=1:1" --timeout 600
  local cpus
  cpus=$(fw_qmp cmd query-cpus-fast) || fail "QMP query-cpus-fast failed"
  grep -q '"qom-type": "cortex-a76-arm-cpu"' <<< "$cpus" ||
    fail "QEMU does not report a Cortex-A76: $(tr -d '\n' <<< "$cpus" | head -c 300)"
  echo "QEMU reports the CPU: $(grep -m1 '"qom-type"' <<< "$cpus" | tr -d ' ,')"
  local want
  for want in 'timeline: entry barespice' 'step Firmware: Done' 'timeline: first frame'; do
    grep -aq "$want" "$FW_LOG" || { tail -n 20 "$FW_LOG"; fail "missing from the log: $want"; }
    echo "client log: $(grep -am1 "$want" "$FW_LOG")"
  done
  if grep -aE 'FATAL:|EXCEPTION ' "$FW_LOG" > "$CASE_DIR/faults.txt"; then
    fail "the firmware faulted on the Cortex-A76: $(head -n3 "$CASE_DIR/faults.txt")"
  fi
  fw_expect_desktop 20
  echo "the Cortex-A76 client shows the server's desktop (try $FW_MATCH_TRY)"
}

pi5_cases() {
  any_selected virt-a76-pi5-cpu || return 0
  local prev
  prev=$(trap -p EXIT)
  prev=${prev#trap -- }
  eval "prev=${prev% EXIT}"
  # shellcheck disable=SC2064
  trap "emu_stop '$P5_DIR'; ${prev:-:}" EXIT
  p5_build
  run_case virt-a76-pi5-cpu "--image-compression off" p5_a76
  emu_stop "$P5_DIR"
}
