# shellcheck shell=bash
# Raspberry Pi 4 real-hardware drivers (issue 8, part B), sourced by
# scripts/test after raspi.sh (it reuses rp_build and RP_IMAGE from there).
#
# Owns: the one check QEMU can make of the Pi 4's PCIe/VL805 and GENET
# drivers, which it does not model:
#   raspi4b-pi4-absent  QEMU raspi4b boots the raspi firmware with its default
#       USB devices and no lab server: the log reports the BCM2711 PCIe and the
#       GENET as absent without touching them (no data abort, no hang), no
#       brcmstb/GENET register was read, and today's path still works: the DWC2
#       binds usb-net as CDC-ECM and DHCP (QEMU's user-mode server) binds over it.
# Must not: start a lab server (the case needs none), or run while a raspi.sh
# client is up (raspi_cases stops its clients before returning).

# p8_absent: one raspi4b boot, checked from its serial log.
p8_absent() {
  [ -z "$RP_BUILD_ERROR" ] || fail "$RP_BUILD_ERROR"
  [ -f "$RP_IMAGE" ] || fail "no firmware at $RP_IMAGE (the build step did not run)"
  local log=$CASE_DIR/serial.log vv=$CASE_DIR/none.vv
  # A configuration is needed to boot; nothing listens there (DHCP is enough).
  printf '[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport=9\n' > "$vv"
  "$REPO/scripts/emulate" --board raspi4b --no-build --config "$vv" --serial-log "$log" \
    --display none --no-reboot --timeout 150 --expect 'timeline: dhcp bound' \
    > "$CASE_DIR/emulate.out" 2>&1 || { tail -n 20 "$log"; fail "no DHCP lease over USB CDC-ECM within 150 s"; }
  local want
  for want in 'bring-up: PCIe Absent: QEMU raspi4b models no BCM2711 PCIe' \
    'bring-up: Ethernet Absent: QEMU raspi4b models no GENET' \
    'usb: CDC-ECM ethernet at' 'timeline: dhcp bound'; do
    grep -aq "$want" "$log" || { tail -n 20 "$log"; fail "missing from the log: $want"; }
    echo "Pi log: $(grep -am1 "$want" "$log")"
  done
  # Neither driver got past its absence check.
  if grep -aE 'pcie: brcmstb|genet: GENET|vl805:|FATAL:|EXCEPTION ' "$log" > "$CASE_DIR/touched.txt"; then
    fail "the firmware touched an absent device or faulted: $(head -n3 "$CASE_DIR/touched.txt")"
  fi
  echo "PCIe and GENET reported absent, not touched; DWC2 + CDC-ECM + DHCP work"
}

pi4_cases() {
  any_selected raspi4b-pi4-absent || return 0
  rp_build # incremental: quick when raspi.sh's cases just built it
  run_case raspi4b-pi4-absent none p8_absent
}
