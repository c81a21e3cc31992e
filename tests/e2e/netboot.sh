# shellcheck shell=bash
# Netboot end-to-end cases (issue 10), sourced by scripts/test after
# tests/e2e/lib.sh and tests/e2e/firmware.sh (run_case, fw_match, fw_expect_desktop).
#
# Owns: one lab network built from network namespaces it creates and removes
# (all names start with "nb"): namespace nblab with bridge nbbr0 (10.99.0.1/24),
# the lab SPICE server listening on 10.99.0.1 inside it (scripts/lab-server
# --addr), scripts/netboot-server on nbbr0, tap devices for the emulated
# clients (scripts/emulate --board virt --boot net), namespace nbpi (veth,
# 10.99.0.60) for the Pi's DHCP and TFTP requests, namespace nbdhcp (veth,
# 10.99.0.2) for the lab's own DHCP server (a plain dnsmasq). The cases:
#   netboot-two-clients  netboot-server --dhcp-range: a DISCOVER with the Pi's
#       option 60 gets an address and option 43 "Raspberry Pi Boot   "; two virt
#       clients with different MACs each boot with no local file (U-Boot: DHCP,
#       boot.scr.uimg, pxelinux.cfg/01-<mac>, image, .vv), log their own .vv
#       (byte count, its resolution) and the pxelinux append, connect, and show
#       the server's desktop pixel for pixel. Client 1's .vv is given with
#       --client, client 2's is dropped into TFTP_ROOT/clients/ (the documented
#       folder) and sets a different resolution.
#   netboot-proxy  netboot-server --proxy next to the plain dnsmasq in nbdhcp
#       (addresses 10.99.0.150-199, next-server 10.99.0.1: U-Boot drops offers
#       without an address, net/bootp.c, so it cannot use proxy DHCP): the Pi's
#       DISCOVER gets the lab's address offer and our option-43 offer without an
#       address; a virt client boots with the lab's address and our files and
#       shows the desktop; our dnsmasq acknowledged no address.
#   netboot-pi-layout  against the same --proxy server: atftp fetches, in order,
#       what a Pi 3B (serial folder), 3B+ (no folder: root files), Pi 4
#       (TFTP_PREFIX=0 serial and =2 MAC folder, tsize 0 blksize 1024) and Pi 5
#       (serial folder, tsize 0 blksize 1468) ask for; files that must exist
#       equal the tree's (the client's own barespice.vv where it has one), the
#       optional probes (bootsig.bin, autoboot.txt, recovery.elf, ...) are "not
#       found", and the OACK echoes tsize = file size and the block size.
#   netboot-ctrl-c  scripts/netboot-server on a pseudo-terminal, then Ctrl-C: it
#       exits and leaves no dnsmasq and no run directory behind.
# The servers of the other cases are stopped with SIGTERM (the same trap as
# Ctrl-C) and their dnsmasq checked gone.
# Must not: touch the shared lab server of the other cases (lab_ensure).

NB_NS=nblab NB_PI_NS=nbpi NB_DHCP_NS=nbdhcp NB_BR=nbbr0
NB_IP=10.99.0.1 NB_PI_IP=10.99.0.60 NB_DHCP_IP=10.99.0.2
NB_MAC1=52:54:00:99:00:01 NB_MAC2=52:54:00:99:00:02 NB_MAC3=52:54:00:99:00:03
NB_PORT=${BARESPICE_TEST_PORT:-5990}
NB_DIR=""
NB_LAB_ENV=""
NB_ERROR=""

nb_ns() { ip netns exec "$NB_NS" "$@"; }

# nb_net_down: remove everything nb_net_up made (processes first).
nb_net_down() {
  local ns pid
  for ns in "$NB_NS" "$NB_PI_NS" "$NB_DHCP_NS"; do
    { ip netns pids "$ns" 2>/dev/null || true; } | while read -r pid; do kill "$pid" 2>/dev/null || true; done
  done
  sleep 0.5
  for ns in "$NB_NS" "$NB_PI_NS" "$NB_DHCP_NS"; do
    { ip netns pids "$ns" 2>/dev/null || true; } | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

# nb_veth NS IFACE_IN_LAB IFACE_IN_NS ADDR: a veth from the lab bridge into NS.
nb_veth() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip link add "$2" netns "$NB_NS" type veth peer name "$3" netns "$1"
  ip -n "$NB_NS" link set "$2" master "$NB_BR" up
  ip -n "$1" addr add "$4/24" dev "$3"
  ip -n "$1" link set "$3" up
}

nb_net_up() {
  nb_net_down
  ip netns add "$NB_NS"
  ip -n "$NB_NS" link set lo up
  ip -n "$NB_NS" link add "$NB_BR" type bridge
  ip -n "$NB_NS" addr add "$NB_IP/24" dev "$NB_BR"
  ip -n "$NB_NS" link set "$NB_BR" up
  local t
  for t in nbtap1 nbtap2 nbtap3; do
    ip -n "$NB_NS" tuntap add dev "$t" mode tap
    ip -n "$NB_NS" link set "$t" master "$NB_BR" up
  done
  nb_veth "$NB_PI_NS" nbvp0 nbvp1 "$NB_PI_IP"
  nb_veth "$NB_DHCP_NS" nbvd0 nbvd1 "$NB_DHCP_IP"
}

# ---- servers (parent shell) --------------------------------------------------------

# nb_lab_up: the lab SPICE server inside nblab, listening on the bridge address.
nb_lab_up() {
  local run="$NB_DIR/lab"
  echo "--- netboot: lab server on $NB_IP:$NB_PORT inside netns $NB_NS"
  if nb_ns "$REPO/scripts/lab-server" --addr "$NB_IP" --port "$NB_PORT" --run-dir "$run" --daemon \
      > "$NB_DIR/lab-server.log" 2>&1; then
    NB_LAB_ENV="$run/lab.env"
    BOOT_TIMES+=("netboot lab (netns $NB_NS): $(sed -n 's/^LAB_BOOT_MS=//p' "$NB_LAB_ENV") ms")
  else
    NB_ERROR="lab server in netns $NB_NS did not start: $(tail -n 3 "$NB_DIR/lab-server.log")"
    echo "$NB_ERROR"
  fi
}

nb_lab_down() {
  [ -n "$NB_LAB_ENV" ] || return 0
  local pid
  pid=$(sed -n 's/^LAB_PIDFILE=//p' "$NB_LAB_ENV" | xargs cat 2>/dev/null || true)
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  NB_LAB_ENV=""
}

# nb_vv FILE TITLE [EXTRA_LINE]: a connection file for the lab server (display
# 1:1, so the desktop is compared centred and unscaled).
nb_vv() {
  printf '[virt-viewer]\ntype=spice\nhost=%s\nport=%s\ntitle=%s\nx-barespice-display=1:1\n%s' "$NB_IP" "$NB_PORT" "$2" "${3:+$3
}" > "$1"
}

# nb_server_start NAME ARGS...: scripts/netboot-server ARGS on nbbr0 in its own
# session; waits until dnsmasq serves TFTP. Sets NB_SERVER_PID and NB_SERVER_LOG.
nb_server_start() {
  local name=$1
  shift
  NB_SERVER_LOG="$NB_DIR/netboot-server-$name.log"
  echo "+ scripts/netboot-server --interface $NB_BR --tftp-root $NB_DIR/tftp --no-build $*"
  setsid ip netns exec "$NB_NS" "$REPO/scripts/netboot-server" --interface "$NB_BR" \
    --tftp-root "$NB_DIR/tftp" --no-build "$@" > "$NB_SERVER_LOG" 2>&1 < /dev/null &
  NB_SERVER_PID=$!
  local t0=$SECONDS
  until grep -q 'TFTP root is' "$NB_SERVER_LOG" 2>/dev/null; do
    if ! kill -0 "$NB_SERVER_PID" 2>/dev/null || [ $((SECONDS - t0)) -ge 120 ]; then
      tail -n 20 "$NB_SERVER_LOG"
      NB_ERROR="scripts/netboot-server $* did not start (log $NB_SERVER_LOG)"
      echo "$NB_ERROR"
      return 1
    fi
    sleep 0.2
  done
  NB_DNSMASQ_PID=$(sed -n 's/^dnsmasq\[\([0-9]*\)\]: started.*/\1/p' "$NB_SERVER_LOG" | head -n1)
  echo "netboot-server up (script pid $NB_SERVER_PID, dnsmasq pid $NB_DNSMASQ_PID)"
}

# nb_server_stop: SIGTERM (Ctrl-C's path) to the script; it and dnsmasq must be gone.
nb_server_stop() {
  [ -n "${NB_SERVER_PID:-}" ] || return 0
  kill -TERM "$NB_SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$NB_SERVER_PID" 2>/dev/null || kill -0 "${NB_DNSMASQ_PID:-0}" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "${NB_DNSMASQ_PID:-0}" 2>/dev/null; then
    echo "netboot: dnsmasq $NB_DNSMASQ_PID still runs after SIGTERM to netboot-server"
    kill "$NB_DNSMASQ_PID" 2>/dev/null || true
    NB_ERROR="netboot-server left dnsmasq running after SIGTERM"
  fi
  NB_SERVER_PID=""
}

# ---- helpers for the cases (subshells) ------------------------------------------------

nb_case_env() {
  [ -z "$NB_ERROR" ] || fail "$NB_ERROR"
  [ -n "$NB_LAB_ENV" ] || return 0
  # shellcheck disable=SC1090
  . "$NB_LAB_ENV"
  export LAB_ENV="$NB_LAB_ENV"
}

# nb_dhcp_probe MAC: the Pi's DISCOVER from nbpi; prints the answers.
nb_dhcp_probe() {
  ip netns exec "$NB_PI_NS" "$PY" "$REPO/tests/e2e/netboot_dhcp.py" nbvp1 "$1" --wait 4 | tee "$CASE_DIR/dhcp-$1.txt"
}

# nb_client_boot DIR TAP MAC: scripts/emulate --boot net in nblab until its first
# frame; sets FW_QMP and FW_LOG for fw_expect_desktop.
nb_client_boot() {
  local dir=$1 tap=$2 mac=$3 t0=$SECONDS
  mkdir -p "$dir"
  FW_QMP=$dir/qmp.sock FW_LOG=$dir/serial.log
  echo "+ scripts/emulate --board virt --boot net --tap $tap --mac $mac --qmp $FW_QMP --serial-log $FW_LOG --display none --timeout 600"
  setsid ip netns exec "$NB_NS" "$REPO/scripts/emulate" --board virt --boot net --tap "$tap" --mac "$mac" \
    --qmp "$FW_QMP" --serial-log "$FW_LOG" --display none --timeout 600 \
    > "$dir/emulate.out" 2>&1 < /dev/null &
  echo $! > "$dir/emulate.pid"
  until grep -aq 'timeline: first frame' "$FW_LOG" 2>/dev/null; do
    emu_alive "$dir" || { cat "$dir/emulate.out"; tail -n 30 "$FW_LOG"; fail "the netbooted client $mac exited"; }
    [ $((SECONDS - t0)) -lt 120 ] || { tail -n 30 "$FW_LOG"; fail "no first frame from the netbooted client $mac within 120 s"; }
    sleep 0.5
  done
  echo "client $mac shows the remote desktop after $((SECONDS - t0)) s"
  grep -a -E 'u-boot .*(DHCP client bound|Filename|Bytes transferred)|config: |display: |timeline: (dhcp bound|first frame)' "$FW_LOG" | sed 's/^/  log: /'
}

# nb_client_check MAC VV RANGE_REGEX own|default: what the firmware logged matches
# the .vv VV (fetched from the client's own folder, or the default one from the
# root), the append of its pxelinux.cfg entry and an address from the expected DHCP
# server; then its screen equals the server's desktop; prints the boot timeline.
nb_client_check() {
  local mac=$1 vv=$2 range=$3 tag=default file=barespice.vv
  [ "$4" = default ] || { tag=${mac//:/-}; file=$tag/barespice.vv; }
  grep -aq "config: $(stat -c %s "$vv")-byte .vv, cmdline console=ttyAMA0 barespice.netboot=$tag\$" "$FW_LOG" \
    || fail "the firmware did not log its $(stat -c %s "$vv")-byte .vv and cmdline barespice.netboot=$tag"
  grep -aq "Filename '$file'" "$FW_LOG" || fail "U-Boot did not fetch $file"
  grep -aE "timeline: dhcp bound $range/24" "$FW_LOG" > /dev/null \
    || fail "the firmware's DHCP address is not from $range: $(grep -a 'timeline: dhcp bound' "$FW_LOG")"
  fw_expect_desktop 20
  echo "client $mac: screen == server screendump (try $FW_MATCH_TRY): $(cat "$CASE_DIR/match.txt")"
  "$PY" "$REPO/scripts/boot-timeline" --log "$FW_LOG" | sed 's/^/  timeline: /'
}

# ---- cases ----------------------------------------------------------------------------

nb_two_clients() {
  nb_case_env
  local c1="$CASE_DIR/client1" c2="$CASE_DIR/client2" size
  nb_dhcp_probe dc:a6:32:01:36:c2
  grep -q "^OFFER server=$NB_IP .*yiaddr=10\.99\.0\.1[0-4][0-9] .*menu='Raspberry Pi Boot   '" "$CASE_DIR/dhcp-dc:a6:32:01:36:c2.txt" \
    || fail "no OFFER with an address and option 43 'Raspberry Pi Boot   ' from our dnsmasq"
  nb_client_boot "$c1" nbtap1 "$NB_MAC1"
  nb_client_check "$NB_MAC1" "$NB_DIR/client1.vv" '10\.99\.0\.1[0-4][0-9]' own
  size=$(grep -a 'display: ramfb' "$FW_LOG" | grep -o '[0-9]*x[0-9]*')
  emu_stop "$c1"
  nb_client_boot "$c2" nbtap2 "$NB_MAC2"
  nb_client_check "$NB_MAC2" "$NB_DIR/tftp/clients/${NB_MAC2//:/-}.vv" '10\.99\.0\.1[0-4][0-9]' own
  grep -aq 'display: ramfb 1280x800' "$FW_LOG" || fail "client 2 did not use the resolution of its own .vv (1280x800)"
  emu_stop "$c2"
  echo "two netbooted clients: $NB_MAC1 (--client file, ramfb $size) and $NB_MAC2 (dropped in clients/, ramfb 1280x800) each showed the desktop pixel-exact"
}

nb_proxy() {
  nb_case_env
  local c3="$CASE_DIR/client3" f="$CASE_DIR/dhcp-dc:a6:32:01:36:c2.txt"
  nb_dhcp_probe dc:a6:32:01:36:c2
  grep -q "^OFFER server=$NB_DHCP_IP .*yiaddr=10\.99\.0\.1[5-9][0-9] " "$f" || fail "no address offer from the lab's DHCP server"
  grep -q "^OFFER server=$NB_IP .*yiaddr=0\.0\.0\.0 .*menu='Raspberry Pi Boot   '" "$f" || fail "no proxy offer with option 43 from our dnsmasq"
  nb_client_boot "$c3" nbtap3 "$NB_MAC3"
  # MAC3 has no client file: it gets the default .vv from the root.
  nb_client_check "$NB_MAC3" "$NB_DIR/default.vv" '10\.99\.0\.1[5-9][0-9]' default
  emu_stop "$c3"
  if grep -q 'DHCPACK' "$NB_SERVER_LOG"; then grep 'DHCPACK' "$NB_SERVER_LOG"; fail "our proxy dnsmasq acknowledged an address"; fi
  echo "proxy: the lab's dnsmasq gave the address, ours the boot files; the client showed the desktop; no address from us"
}

# nb_get LABEL OPTS FILE ok|missing [EXPECTED]: one TFTP read from nbpi, as a Pi
# bootloader would do it. OPTS: "" (plain 512-byte blocks) or "BLKSIZE" (with tsize 0).
nb_get() {
  local label=$1 blk=$2 file=$3 want=$4 expected=${5:-} out="$CASE_DIR/got" trace args=()
  [ -n "$expected" ] || expected="$NB_DIR/tftp/$file"
  [ -z "$blk" ] || args=(--option "tsize 0" --option "blksize $blk")
  rm -f "$out"
  if trace=$(cd "$CASE_DIR" && ip netns exec "$NB_PI_NS" atftp --trace "${args[@]}" -g -r "$file" -l "$out" "$NB_IP" 2>&1); then
    [ "$want" = ok ] || fail "$label: $file was served, a Pi expects it to be missing here"
    cmp -s "$out" "$expected" || fail "$label: $file differs from $expected"
    if [ -n "$blk" ]; then
      grep -q "received OACK <tsize: $(stat -c %s "$expected"), blksize: $blk," <<< "$trace" \
        || fail "$label: $file: no OACK with tsize $(stat -c %s "$expected") and blksize $blk: $(echo "$trace" | grep -m1 OACK)"
    fi
    printf '  %-5s %-44s %8s bytes%s\n' "$label" "$file" "$(stat -c %s "$out")" "${blk:+, OACK tsize + blksize $blk}"
  else
    [ "$want" = missing ] || fail "$label: $file not served: $(echo "$trace" | tail -n 2)"
    grep -q "not found" <<< "$trace" || fail "$label: $file: expected 'not found', got: $(echo "$trace" | tail -n 2)"
    printf '  %-5s %-44s not found (expected)\n' "$label" "$file"
  fi
}

nb_pi_layout() {
  nb_case_env
  local s3=1a2b3c4d s4=5eed1234 s5=9abc0123 mac=dc-a6-32-01-36-c2 p f
  cmp -s "$NB_DIR/tftp/barespice.img" "$REPO/out/firmware/raspi/Image" || fail "the tree's barespice.img is not the raspi build"
  cmp -s "$NB_DIR/tftp/virt/barespice.img" "$REPO/out/firmware/virt/Image" || fail "the tree's virt/barespice.img is not the virt build"
  echo "tree: barespice.img = out/firmware/raspi/Image (the SD image's build), virt/barespice.img = out/firmware/virt/Image"
  echo "Pi 3B, serial $s3 (own folder), boot ROM then bootcode.bin, 512-byte blocks:"
  nb_get 3B "" bootcode.bin ok
  nb_get 3B "" bootsig.bin missing
  nb_get 3B "" "$s3/start.elf" ok
  for f in autoboot.txt:missing config.txt:ok recovery.elf:missing start.elf:ok fixup.dat:ok dt-blob.bin:missing \
           bootcfg.txt:missing barespice-pi3.dtb:ok overlays/overlay_map.dtb:missing cmdline.txt:ok barespice.img:ok; do
    nb_get 3B "" "$s3/${f%:*}" "${f#*:}"
  done
  nb_get 3B "" "$s3/barespice.vv" ok "$NB_DIR/pi-$s3.vv"
  echo "Pi 3B+, serial 00c0ffee (no folder: the root files):"
  nb_get 3B+ "" bootcode.bin ok
  nb_get 3B+ "" bootsig.bin missing
  nb_get 3B+ "" 00c0ffee/start.elf missing
  for f in autoboot.txt:missing config.txt:ok recovery.elf:missing start.elf:ok fixup.dat:ok dt-blob.bin:missing \
           bootcfg.txt:missing barespice-pi3.dtb:ok cmdline.txt:ok barespice.img:ok; do
    nb_get 3B+ "" "${f%:*}" "${f#*:}"
  done
  nb_get 3B+ "" barespice.vv ok "$NB_DIR/default.vv"
  for p in "$s4:pi-$s4.vv:TFTP_PREFIX=0 (serial)" "$mac:pi-$mac.vv:TFTP_PREFIX=2 (MAC)"; do
    f=${p%%:*}
    echo "Pi 4, $(echo "$p" | cut -d: -f3-), folder $f, tsize 0 blksize 1024:"
    for g in start4.elf:ok start.elf:ok config.txt:ok recover4.elf:missing recovery.elf:missing \
             start4.elf:ok start.elf:ok config.txt:ok start4.elf:ok fixup4.dat:ok; do
      nb_get Pi4 1024 "$f/${g%:*}" "${g#*:}"
    done
    nb_get Pi4 1024 "$f/barespice.vv" ok "$NB_DIR/$(echo "$p" | cut -d: -f2)"
    for g in barespice-pi4.dtb:ok overlays/overlay_map.dtb:missing cmdline.txt:ok barespice.img:ok; do
      nb_get Pi4 1024 "$f/${g%:*}" "${g#*:}"
    done
  done
  echo "Pi 4, serial 0badf00d without a folder: the prefix is dropped after start4.elf/start.elf are missing:"
  nb_get Pi4 1024 0badf00d/start4.elf missing
  nb_get Pi4 1024 0badf00d/start.elf missing
  nb_get Pi4 1024 start4.elf ok
  nb_get Pi4 1024 barespice.vv ok "$NB_DIR/default.vv"
  echo "Pi 5, serial $s5 (low 8 hex digits), tsize 0 blksize 1468 (no start4.elf: config.txt then the kernel):"
  nb_get Pi5 1468 "$s5/config.txt" ok
  nb_get Pi5 1468 "$s5/barespice.img" ok
  nb_get Pi5 1468 "$s5/barespice.vv" ok "$NB_DIR/pi-$s5.vv"
  nb_get Pi5 1468 "$s5/cmdline.txt" ok
  grep -q "file $NB_DIR/tftp/bootsig.bin not found for $NB_PI_IP" "$NB_SERVER_LOG" \
    || fail "the server log does not name the missing bootsig.bin"
  echo "server log for a missing file: $(grep -m1 'bootsig.bin not found' "$NB_SERVER_LOG")"
  echo "Pi 3B, 3B+, 4 (serial, MAC, no folder) and 5 fetch orders served; missing probes answered 'not found'"
}

# nb_ctrl_c: scripts/netboot-server on a terminal (a pty), then Ctrl-C: the script
# exits, its dnsmasq is gone and its run directory removed.
nb_ctrl_c() {
  nb_case_env
  "$PY" - "$NB_NS" "$REPO/scripts/netboot-server" "$NB_BR" "$CASE_DIR/tftp" <<'PY'
import os, pty, re, select, signal, subprocess, sys, time
ns, script, iface, root = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    # A user's terminal starts the server with Ctrl-C at its default action.
    # This test may itself run with SIGINT ignored (a background job of a
    # non-interactive shell), and a shell started with a signal ignored can
    # never trap it, so the server's trap would not see the Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execvp("ip", ["ip", "netns", "exec", ns, script, "--interface", iface, "--no-build", "--tftp-root", root])
out, end = b"", time.time() + 120
while b"TFTP root is" not in out:
    if time.time() > end:
        sys.exit("FAIL: netboot-server did not start: " + out.decode(errors="replace")[-400:])
    try:
        out += os.read(fd, 4096)
    except OSError:
        sys.exit("FAIL: netboot-server ended early: " + out.decode(errors="replace")[-400:])
conf = re.search(rb"dnsmasq config (\S+/dnsmasq\.conf)", out).group(1).decode()
dns = subprocess.run(["pgrep", "-f", "conf-file=" + conf], capture_output=True, text=True).stdout.split()
print("running: netboot-server pid %d, dnsmasq pid %s, %s" % (pid, " ".join(dns) or "?", conf))
if not dns:
    sys.exit("FAIL: no dnsmasq found for " + conf)
os.write(fd, b"\x03")  # the terminal turns ^C into SIGINT for the foreground process group
end = time.time() + 15
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    # Keep reading the terminal, as a user's does: dnsmasq logs every DHCP
    # packet it sees there, and a full terminal buffer would block it in a
    # write, where it cannot act on the TERM the trap sends.
    if select.select([fd], [], [], 0.1)[0]:
        try:
            out += os.read(fd, 4096)
        except OSError:  # the terminal was hung up: nothing more to read
            time.sleep(0.1)
else:
    os.kill(pid, 9)
    sys.exit("FAIL: netboot-server still runs 15 s after Ctrl-C; its last output: " + out.decode(errors="replace")[-400:])
left = subprocess.run(["pgrep", "-f", "conf-file=" + conf], capture_output=True, text=True).stdout.split()
if left:
    sys.exit("FAIL: dnsmasq %s still runs after Ctrl-C" % " ".join(left))
if os.path.exists(os.path.dirname(conf)):
    sys.exit("FAIL: run directory %s left behind" % os.path.dirname(conf))
print("Ctrl-C: netboot-server exited (status %d), dnsmasq gone, %s removed" % (os.waitstatus_to_exitcode(status), os.path.dirname(conf)))
PY
}

# netboot_cases: the cases on one lab network and one lab server.
netboot_cases() {
  any_selected netboot-two-clients netboot-proxy netboot-pi-layout netboot-ctrl-c || return 0
  local t0=$SECONDS id
  NB_DIR="$E2E_OUT/netboot"
  rm -rf "$NB_DIR"
  mkdir -p "$NB_DIR/tftp/clients"
  NB_ERROR=""
  if [ "$(id -u)" != 0 ] || ! command -v atftp > /dev/null || [ ! -f /usr/lib/u-boot/qemu_arm64/u-boot.bin ]; then
    NB_ERROR="needs root (network namespaces), atftp and u-boot-qemu (scripts/setup)"
  fi
  # Both images, unless an earlier section of this run built them (each switch of
  # board relinks the firmware, about a minute on two cores).
  local board
  for board in raspi virt; do
    [ -z "$NB_ERROR" ] || break
    [ "$REPO/out/firmware/$board/Image" -nt "$E2E_OUT" ] && continue
    "$REPO/scripts/build-firmware" --board "$board" > "$NB_DIR/build-$board.log" 2>&1 \
      || NB_ERROR="scripts/build-firmware --board $board failed (see $NB_DIR/build-$board.log)"
  done
  # The Pi blobs come from Debian's raspi-firmware package: fetch them here, as
  # the namespaces the server runs in reach no package mirror.
  if [ -z "$NB_ERROR" ] && ! ( die() { echo "$*" >&2; exit 1; }
        . "$REPO/scripts/lib/pi-boot-files.sh"; pi_blobs ) > "$NB_DIR/pi-blobs.log" 2>&1; then
    NB_ERROR="raspi-firmware blobs could not be fetched (see $NB_DIR/pi-blobs.log)"
  fi
  trap 'nb_server_stop; nb_lab_down; nb_net_down; fw_clients_stop; lab_stop' EXIT
  [ -n "$NB_ERROR" ] || nb_net_up
  if [ -z "$NB_ERROR" ] && any_selected netboot-two-clients netboot-proxy; then nb_lab_up; fi
  nb_vv "$NB_DIR/default.vv" nb-default
  nb_vv "$NB_DIR/client1.vv" nb-client-1
  nb_vv "$NB_DIR/tftp/clients/${NB_MAC2//:/-}.vv" nb-client-2 resolution=1280x800
  for id in 1a2b3c4d 5eed1234 9abc0123 dc-a6-32-01-36-c2; do nb_vv "$NB_DIR/pi-$id.vv" "nb-pi-$id"; done
  if [ -z "$NB_ERROR" ] && selected netboot-two-clients; then
    nb_server_start range --dhcp-range 10.99.0.100,10.99.0.140 --config "$NB_DIR/default.vv" \
      --client "$NB_MAC1=$NB_DIR/client1.vv" || true
  fi
  run_case netboot-two-clients none nb_two_clients
  nb_server_stop
  if [ -z "$NB_ERROR" ] && any_selected netboot-proxy netboot-pi-layout; then
    ip netns exec "$NB_DHCP_NS" dnsmasq --keep-in-foreground --port=0 --interface=nbvd1 --bind-interfaces \
      --dhcp-range=10.99.0.150,10.99.0.199,1h --dhcp-boot=boot.scr.uimg,,"$NB_IP" \
      --dhcp-leasefile="$NB_DIR/lab-dhcp.leases" --log-dhcp --log-facility=- --pid-file= \
      > "$NB_DIR/lab-dhcp.log" 2>&1 &
    nb_server_start proxy --proxy --config "$NB_DIR/default.vv" \
      --client "1a2b3c4d=$NB_DIR/pi-1a2b3c4d.vv" --client "5eed1234=$NB_DIR/pi-5eed1234.vv" \
      --client "9abc0123=$NB_DIR/pi-9abc0123.vv" --client "dc:a6:32:01:36:c2=$NB_DIR/pi-dc-a6-32-01-36-c2.vv" || true
  fi
  run_case netboot-proxy none nb_proxy
  run_case netboot-pi-layout none nb_pi_layout
  nb_server_stop
  run_case netboot-ctrl-c none nb_ctrl_c
  nb_lab_down
  nb_net_down
  trap 'fw_clients_stop; lab_stop' EXIT
  [ -z "$NB_ERROR" ] || echo "netboot: $NB_ERROR"
  echo "netboot section: $((SECONDS - t0)) s"
}
