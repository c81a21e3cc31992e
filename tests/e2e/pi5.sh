# shellcheck shell=bash
# Raspberry Pi 5 base support (issue 9, item 5), sourced by scripts/test after
# firmware.sh (it uses fw_build, emu_start, fw_qmp and fw_expect_desktop from
# there).
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

p5_a76() {
  [ -z "$FW_BUILD_ERROR" ] || fail "$FW_BUILD_ERROR"
  FW_QMP=$P5_DIR/qmp.sock
  FW_LOG=$P5_DIR/serial.log
  emu_start "$P5_DIR" virt "Cortex-A76 client" 150 -- --cpu cortex-a76 \
    --append "barespice.display=1:1" --timeout 600
  # The CPU's QOM type, from QEMU itself (query-cpus-fast names its object).
  local cpus path type
  cpus=$(fw_qmp cmd query-cpus-fast) || fail "QMP query-cpus-fast failed"
  path=$(sed -nE 's/.*"qom-path": "([^"]+)".*/\1/p' <<< "$cpus" | head -n1)
  [ -n "$path" ] || fail "query-cpus-fast named no CPU: $(tr -d '\n' <<< "$cpus" | head -c 300)"
  type=$(fw_qmp cmd qom-get "{\"path\": \"$path\", \"property\": \"type\"}" | tr -d '" \n')
  [ "$type" = cortex-a76-arm-cpu ] || fail "QEMU's CPU $path is '$type', not cortex-a76-arm-cpu"
  echo "QEMU reports the CPU $path as $type"
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
  fw_build # firmware.sh's virt build: incremental when its cases just built it
  run_case virt-a76-pi5-cpu "--image-compression off" p5_a76
  emu_stop "$P5_DIR"
}
