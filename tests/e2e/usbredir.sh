# shellcheck shell=bash
# USB redirection (issue 15, part B), sourced by scripts/test after raspi.sh (it
# reuses rp_build and RP_IMAGE from there).
#
# Owns:
#   usbredir-raspi3b  the lab server has one usb-redir device (scripts/lab-server
#       --usb-redir 1); the emulated Pi 3 (scripts/emulate --usb-disk) holds a
#       usb-storage disk with known content next to its keyboard, tablet, usb-net
#       and a usb-ccid smartcard reader that the .vv usb-filter denies by
#       vendor:product (every other device allowed). The firmware offers the disk
#       over the SPICE usbredir channel; the lab guest reads the whole disk and
#       its SHA-256 (serial log "USB DISK ... SHA256") must equal the image's;
#       the read time gives the throughput (printed). QMP device_del of the disk
#       on the client's QEMU makes it disappear from the guest ("USB DISK ...
#       GONE", "USB DEVICE 46f4:0001 GONE"). The reader never appears in the
#       guest, the firmware logs it as not shared, and the keyboard, tablet and
#       network adapter are never claimed.
#   usbredir-virt-xhci  the same on QEMU virt with every device behind a
#       qemu-xhci (scripts/emulate --board virt-xhci; the disk is SuperSpeed).
# Must not: share its lab server with cases whose flags differ (run_case keys the
# server by flags), or leave the emulated Pi running.

UR_DISK_KIB=512

# ur_wait FILE FROM REGEX SECS WHAT: wait until FILE has REGEX after line FROM;
# prints the line.
ur_wait() {
  local t0=$SECONDS
  until awk -v n="$2" -v re="$3" 'NR > n && $0 ~ re { f = 1; exit } END { exit !f }' "$1" 2>/dev/null; do
    [ $((SECONDS - t0)) -lt "$4" ] || { tail -n 15 "$1"; fail "$5 (no '$3' within $4 s)"; }
    sleep 0.5
  done
  # The guest's serial lines end in CR LF.
  awk -v n="$2" -v re="$3" 'NR > n && $0 ~ re { print; exit }' "$1" | tr -d '\r'
}

# ur_case BOARD: the case on the emulated BOARD (raspi3b or virt-xhci).
ur_case() {
  local board=$1 usb='usb-kbd usb-tablet usb-net,netdev=net0 usb-ccid,id=ccid0' image=$RP_IMAGE error=$RP_BUILD_ERROR
  if [ "$board" = virt-xhci ]; then
    usb='usb-kbd,bus=xhci.0 usb-tablet,bus=xhci.0 usb-net,netdev=net0,bus=xhci.0 usb-ccid,id=ccid0,bus=xhci.0'
    image=$REPO/out/firmware/virt/Image error=${FW_BUILD_ERROR:-}
  fi
  [ -z "$error" ] || fail "$error"
  [ -f "$image" ] || fail "no firmware at $image (the build step did not run)"
  local dir=$CASE_DIR/pi img=$CASE_DIR/disk.img glog=$LAB_SERIAL_LOG from want line
  mkdir -p "$dir"
  # Known content: a SHA-256 counter stream (not our own output, not zeros).
  "$PY" -c 'import hashlib,sys
n=int(sys.argv[2])*1024
out=bytearray()
i=0
while len(out)<n:
    out+=hashlib.sha256(b"barespice usbredir %d" % i).digest(); i+=1
open(sys.argv[1],"wb").write(out[:n])' "$img" "$UR_DISK_KIB"
  want=$(sha256sum "$img" | cut -d' ' -f1)
  echo "disk image: $UR_DISK_KIB KiB, sha256 $want"
  printf '[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport=%s\nusb-filter=-1,0x08e6,0x4433,-1,0|-1,-1,-1,-1,1\n' "$LAB_PORT" > "$dir/lab.vv"
  from=$(wc -l < "$glog")
  setsid "$REPO/scripts/emulate" --board "$board" --no-build --config "$dir/lab.vv" \
    --qmp "$dir/qmp.sock" --serial-log "$dir/serial.log" --display none --no-reboot --timeout 600 \
    --append "barespice.display=1:1" --usb "$usb" \
    --usb-disk "$img" > "$dir/emulate.out" 2>&1 < /dev/null &
  echo $! > "$dir/emulate.pid"
  UR_PI_DIR=$dir
  trap 'emu_stop "$UR_PI_DIR"' EXIT
  ur_wait "$dir/serial.log" 0 'usbredir: offering device [0-9]+ 46f4:0001 to the VM' 150 "the client did not offer the disk"
  line=$(ur_wait "$glog" "$from" '^USB DISK sd[a-z]+ SHA256 ' 240 "the lab guest did not read the redirected disk")
  echo "guest: $line"
  local got bytes ms
  read -r _ _ _ _ got _ bytes _ ms <<< "$line"
  [ "$got" = "$want" ] || fail "guest read sha256 $got, the image is $want"
  [ "$bytes" = $((UR_DISK_KIB * 1024)) ] || fail "guest disk is $bytes bytes, the image $((UR_DISK_KIB * 1024))"
  echo "measure: redirected disk read in the guest: $bytes bytes in $ms ms = $(( bytes * 1000 / (ms > 0 ? ms : 1) / 1024 )) KiB/s (guest clock, QEMU $board under TCG)"
  ur_wait "$glog" "$from" '^USB DEVICE 46f4:0001[[:space:]]*$' 5 "the guest did not list the disk's USB device" > /dev/null
  # Unplug on the client: gone from the guest.
  local before
  before=$(wc -l < "$glog")
  "$PY" "$REPO/scripts/lib/qmp.py" "$dir/qmp.sock" device_del usbdisk0
  ur_wait "$dir/serial.log" 0 'usbredir: device unplugged, telling the VM' 60 "the client did not report the unplug"
  echo "guest: $(ur_wait "$glog" "$before" '^USB DISK sd[a-z]+ GONE[[:space:]]*$' 60 "the disk did not leave the guest")"
  echo "guest: $(ur_wait "$glog" "$before" '^USB DEVICE 46f4:0001 GONE[[:space:]]*$' 60 "the USB device did not leave the guest")"
  # The filtered reader: logged as not shared, never in the guest; nothing local claimed.
  line=$(grep -am1 'usbredir: device [0-9]* 08e6:4433 not shared' "$dir/serial.log") ||
    fail "the client did not log the usb-ccid reader as not shared"
  echo "client log: $line"
  if awk -v n="$from" 'NR > n' "$glog" | grep -q '08e6:4433'; then
    fail "the usb-filter-denied reader appeared in the guest"
  fi
  local claimed
  claimed=$(grep -ac 'usbredir: claimed device' "$dir/serial.log")
  [ "$claimed" = 1 ] || fail "expected only the disk claimed for redirection, got $claimed: $(grep -a 'usbredir: claimed' "$dir/serial.log")"
  if grep -aE 'closed:|reconnecting in' "$dir/serial.log" > "$CASE_DIR/closed.txt"; then
    fail "the SPICE session was interrupted: $(head -n1 "$CASE_DIR/closed.txt")"
  fi
  echo "redirected disk sha256 == image, unplug removed it, the denied reader never appeared"
}

usbredir_cases() {
  if any_selected usbredir-raspi3b; then
    rp_build # incremental: quick when raspi.sh's cases just built it
    run_case usbredir-raspi3b "--usb-redir 1" ur_case raspi3b
  fi
  if any_selected usbredir-virt-xhci; then
    fw_build # incremental: quick when firmware.sh's cases just built it
    run_case usbredir-virt-xhci "--usb-redir 1" ur_case virt-xhci
  fi
}
