# shellcheck shell=bash
# TLS end-to-end cases (issue 11), sourced by scripts/test after tests/e2e/lib.sh.
#
# Owns: the test PKI made here with openssl (a CA; a server certificate with
# subject OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=spice.lab and
# subjectAltName DNS:spice.lab, IP:127.0.0.1; a second, unrelated CA; an
# expired certificate from the same CA), connection files (.vv) written the
# way remote-viewer / Proxmox hand them out, the proxies (Debian's tinyproxy;
# tests/e2e/spiceproxy.py, which routes by the Host: header as Proxmox's
# spiceproxy does) and what the tls-* cases check:
#   tls-host-all        all channels TLS (server: tls-channel=default), .vv with
#                       only tls-port + ca + host-subject: snapshot == screendump;
#                       again with TLS 1.2 through socat's OpenSSL limited to 1.2
#   tls-host-secured    .vv with port and tls-port: every channel's plain link is
#                       answered NEED_SECURED and relinked on TLS; pixel-exact
#   tls-host-refusals   wrong CA, wrong host-subject, host name not in the
#                       certificate, no ca=, expired certificate (served by
#                       openssl s_server), wrong password, proxy refusing the
#                       ticket, unknown host, closed port, tls-port pointing
#                       at the plain port: each its own exit code and line
#   tls-proxy-tinyproxy through Debian's tinyproxy (HTTP CONNECT): pixel-exact
#   tls-proxy-pve       through spiceproxy.py, SPICE host a Proxmox-style ticket
#                       name only the proxy resolves, delete-this-file=1: the file
#                       is gone and the snapshot is pixel-exact
#   tls-capture         tcpdump on lo during a TLS session: the password bytes
#                       never appear, TLS records do
#   tls-fw-all          the firmware (virt) over TLS through the Proxmox-style
#                       proxy: its screen == the server's screendump, and its
#                       serial log has a handshake time per channel
#   tls-fw-refusals     the firmware with a wrong CA, a wrong host-subject, a wrong password, an expired
#                       certificate (clock unknown: build-date rule) and, with
#                       its clock set by SNTP (x-barespice-ntp, a server of ours
#                       saying 2019-06-01), a not-yet-valid one: the status
#                       screen text (serial log) names each, twice (it retries),
#                       and it does not crash
#   tls-host-mix        second server: main+display TLS, inputs+cursor plaintext
#                       (tls-channel / plaintext-channel); .vv with
#                       secure-channels=main;display: pixel-exact, the log shows
#                       which channel used TLS
#   tls-fw-mix          the firmware (virt) on that second server with the same
#                       secure-channels: screen == server screendump, its serial
#                       log has TLS handshakes for main and display only
# Must not: start the shared lab server by itself (run_case does, with the flags
# given here).

TLS_DIR=""
TLS_PW="tls-s3cret-Q7"
TLS_PORT=""
TLS_SUBJECT="OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=spice.lab"
TLS_TICKET_HOST="pvespiceproxy:6580a1b2:100:lab::0f1e2d3c4b5a69788796a5b4c3d2e1f0"

# tls_pki DIR [SAN]: the CA, server and test certificates (openssl; parent
# shell); SAN is the server certificate's subjectAltName (default
# DNS:spice.lab,IP:127.0.0.1).
tls_pki() {
  local d=$1 san=${2:-DNS:spice.lab,IP:127.0.0.1}
  mkdir -p "$d/server" "$d/other" "$d/expired"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out server/ca-cert.pem -days 3650 \
      -subj "/CN=barespice test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server/server-key.pem -out server.csr \
      -subj "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=spice.lab" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" > ext.cnf
    openssl x509 -req -in server.csr -CA server/ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
      -out server/server-cert.pem -days 365 -extfile ext.cnf 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other/ca-key.pem -out other/ca-cert.pem -days 3650 \
      -subj "/CN=some other CA" 2>/dev/null
    # Expired: valid 2020-01-01 .. 2021-01-01, signed by the right CA
    # (bookworm's OpenSSL 3.0 sets past dates only through `openssl ca`).
    : > expired/index.txt
    echo 1000 > expired/serial
    cat > expired/ca.cnf <<EOF
[ca]
default_ca = tca
[tca]
database = $d/expired/index.txt
new_certs_dir = $d/expired
serial = $d/expired/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
organizationalUnitName = optional
organizationName = optional
commonName = supplied
EOF
    openssl ca -batch -notext -config expired/ca.cnf -cert server/ca-cert.pem -keyfile ca-key.pem \
      -in server.csr -out expired/server-cert.pem -startdate 20200101000000Z -enddate 20210101000000Z \
      -extfile ext.cnf 2>/dev/null
  )
  [ -s "$d/server/server-cert.pem" ] && [ -s "$d/expired/server-cert.pem" ] && [ -s "$d/other/ca-cert.pem" ]
}

# tls_pem FILE: a PEM file as one .vv value (newlines as \n).
tls_pem() { awk '{ printf "%s\\n", $0 }' "$1"; }

# tls_vv OUT HOST [KEY=VALUE...]: a connection file for the TLS lab server;
# later KEY=VALUE words replace earlier keys ("key=" drops the key).
tls_vv() {
  local out=$1 host=$2
  shift 2
  {
    echo "[virt-viewer]"
    printf '%s\n' "type=spice" "title=barespice TLS lab" "host=$host" "tls-port=$TLS_PORT" \
      "password=$TLS_PW" "host-subject=$TLS_SUBJECT" "ca=$(tls_pem "$TLS_DIR/server/ca-cert.pem")" "$@"
  } | awk -F= 'NR == 1 { print; next } { k = $1; v[k] = $0; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
               END { for (i = 1; i <= n; i++) if (v[order[i]] != order[i] "=") print v[order[i]] }' > "$out"
}

# tls_client VV ARGS...: barespice-host with a connection file (time-limited).
tls_client() {
  need_client
  echo "+ barespice-host $*"
  timeout --kill-after=5 "${CLIENT_TIMEOUT:-120}" "$HOST_BIN" "$@"
}

# tls_expect_refusal NAME CODE REGEX VV: the client exits CODE with a line matching REGEX.
tls_expect_refusal() {
  local name=$1 code=$2 re=$3 vv=$4 rc=0
  tls_client "$vv" --snapshot "$CASE_DIR/$name.png" --timeout-s 30 2> "$CASE_DIR/$name.err" || rc=$?
  cat "$CASE_DIR/$name.err"
  [ "$rc" = "$code" ] || fail "$name: exit $rc, expected $code"
  [ "$(wc -l < "$CASE_DIR/$name.err")" = 1 ] || fail "$name: expected one line"
  grep -Eq "$re" "$CASE_DIR/$name.err" || fail "$name: line does not match /$re/"
  ! grep -q "$TLS_PW" "$CASE_DIR/$name.err" || fail "$name: the password is in the message"
  [ ! -e "$CASE_DIR/$name.png" ] || fail "$name: wrote a snapshot"
  echo "$name: exit $rc: $(cat "$CASE_DIR/$name.err")"
}

tls_host_all() {
  tls_vv "$CASE_DIR/all.vv" 127.0.0.1 "secure-channels=all"
  tls_client "$CASE_DIR/all.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60 --log 2> "$CASE_DIR/client.log"
  grep -v ' dirty ' "$CASE_DIR/client.log"
  for ch in main display inputs cursor; do
    grep -Eq "^barespice-host: $ch channel 0: TLSv1_[23] handshake [0-9]+ ms" "$CASE_DIR/client.log" || fail "$ch channel did not use TLS"
  done
  expect_same "$CASE_DIR/snap.png"
  # TLS 1.2: QEMU offers 1.3 first, so put an OpenSSL front end limited to 1.2
  # (socat, re-encrypting to QEMU's TLS port) in between.
  local fport fpid
  fport=$(BARESPICE_TEST_PORT=$((TLS_PORT + 5)) free_port)
  socat "OPENSSL-LISTEN:$fport,bind=127.0.0.1,reuseaddr,fork,cert=$TLS_DIR/server/server-cert.pem,key=$TLS_DIR/server/server-key.pem,verify=0,openssl-max-proto-version=TLS1.2" \
    "OPENSSL:127.0.0.1:$TLS_PORT,cafile=$TLS_DIR/server/ca-cert.pem,verify=1" > "$CASE_DIR/socat.log" 2>&1 &
  fpid=$!
  for _ in $(seq 1 50); do ss -Hltn "sport = :$fport" | grep -q . && break; sleep 0.1; done
  tls_vv "$CASE_DIR/tls12.vv" 127.0.0.1 "tls-port=$fport"
  tls_client "$CASE_DIR/tls12.vv" --snapshot "$CASE_DIR/snap12.png" --idle-ms 1500 --timeout-s 60 --log 2> "$CASE_DIR/client12.log" || { kill "$fpid"; cat "$CASE_DIR/client12.log"; fail "TLS 1.2 client failed"; }
  kill "$fpid" 2>/dev/null || true
  grep -E 'handshake' "$CASE_DIR/client12.log"
  [ "$(grep -Ec '^barespice-host: [a-z]+ channel 0: TLSv1_2 handshake' "$CASE_DIR/client12.log")" = 4 ] || fail "not every channel used TLS 1.2"
  expect_same "$CASE_DIR/snap12.png"
  echo "all channels TLS (1.3 direct, 1.2 through an OpenSSL front end): snapshots == screendump"
}

tls_host_secured() {
  tls_vv "$CASE_DIR/secured.vv" 127.0.0.1 "port=$LAB_PORT"
  tls_client "$CASE_DIR/secured.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60 --log 2> "$CASE_DIR/client.log"
  grep -v ' dirty ' "$CASE_DIR/client.log"
  for ch in main display; do
    grep -q "^barespice-host: $ch channel.*server requires TLS, reconnecting on tls-port" "$CASE_DIR/client.log" || fail "no NEED_SECURED switch on $ch"
  done
  expect_same "$CASE_DIR/snap.png"
  echo "NEED_SECURED switched every channel to the TLS port: snapshot == screendump"
}

tls_host_refusals() {
  local v=$CASE_DIR spid
  tls_vv "$v/wrong-ca.vv" 127.0.0.1 "ca=$(tls_pem "$TLS_DIR/other/ca-cert.pem")"
  tls_expect_refusal wrong-ca 7 'certificate untrusted: not issued by the CA' "$v/wrong-ca.vv"
  tls_vv "$v/wrong-subject.vv" 127.0.0.1 "host-subject=OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve2"
  tls_expect_refusal wrong-subject 8 'certificate mismatch: expected host-subject .*CN=pve2, server presented subject .*CN=spice.lab' "$v/wrong-subject.vv"
  tls_vv "$v/wrong-host.vv" localhost "host-subject="
  tls_expect_refusal wrong-host 8 'certificate mismatch: expected host localhost, server presented names spice.lab 127.0.0.1' "$v/wrong-host.vv"
  tls_vv "$v/no-ca.vv" 127.0.0.1 "ca="
  tls_expect_refusal no-ca 6 'TLS required but no CA' "$v/no-ca.vv"
  tls_vv "$v/wrong-password.vv" 127.0.0.1 "password=not-the-ticket"
  tls_expect_refusal wrong-password 10 'ticket expired or already used, get a new connection file' "$v/wrong-password.vv"
  # Expired: openssl's own TLS server presents the expired certificate.
  local eport
  eport=$(BARESPICE_TEST_PORT=$((TLS_PORT + 10)) free_port)
  openssl s_server -quiet -accept "127.0.0.1:$eport" -cert "$TLS_DIR/expired/server-cert.pem" \
    -key "$TLS_DIR/server/server-key.pem" > "$v/s_server.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 50); do ss -Hltn "sport = :$eport" | grep -q . && break; sleep 0.1; done
  tls_vv "$v/expired.vv" 127.0.0.1 "tls-port=$eport" "host-subject="
  tls_expect_refusal expired 9 'certificate expired on 2021-01-01' "$v/expired.vv" || { kill "$spid"; exit 1; }
  kill "$spid" 2>/dev/null || true
  # A proxy that does not know the ticket: its status line is shown.
  tls_spiceproxy_start "$v"
  tls_vv "$v/proxy-refused.vv" "pvespiceproxy:00000000:100:lab::stale" "proxy=http://127.0.0.1:$TLS_SPICEPROXY_PORT"
  tls_expect_refusal proxy-refused 5 'proxy 127.0.0.1:[0-9]+ refused the connection: HTTP/1.0 401 invalid ticket' "$v/proxy-refused.vv"
  tls_spiceproxy_stop
  # The network and the server side of the table.
  tls_vv "$v/unreachable.vv" spice.invalid
  tls_expect_refusal unreachable 3 'server unreachable: spice.invalid:[0-9]+: cannot resolve' "$v/unreachable.vv"
  tls_vv "$v/refused.vv" 127.0.0.1 "tls-port=$(BARESPICE_TEST_PORT=$((TLS_PORT + 15)) free_port)"
  tls_expect_refusal refused 4 'connection refused by 127.0.0.1:[0-9]+' "$v/refused.vv"
  tls_vv "$v/plain-port.vv" 127.0.0.1 "tls-port=$LAB_PORT"
  tls_expect_refusal plain-port 11 'protocol error: .*TLS' "$v/plain-port.vv"
  echo "each refusal had its own exit code and message"
}

TLS_SPICEPROXY_PID=""
TLS_SPICEPROXY_PORT=""
# tls_spiceproxy_start DIR: the Proxmox-style proxy, routing the ticket name to 127.0.0.1.
tls_spiceproxy_start() {
  TLS_SPICEPROXY_PORT=$(BARESPICE_TEST_PORT=$((TLS_PORT + 20)) free_port)
  "$PY" "$REPO/tests/e2e/spiceproxy.py" --port "$TLS_SPICEPROXY_PORT" \
    --route "$TLS_TICKET_HOST=127.0.0.1" > "$1/spiceproxy.log" 2>&1 &
  TLS_SPICEPROXY_PID=$!
  for _ in $(seq 1 50); do ss -Hltn "sport = :$TLS_SPICEPROXY_PORT" | grep -q . && return 0; sleep 0.1; done
  fail "spiceproxy.py did not start"
}
tls_spiceproxy_stop() { [ -z "$TLS_SPICEPROXY_PID" ] || kill "$TLS_SPICEPROXY_PID" 2>/dev/null || true; }

tls_proxy_tinyproxy() {
  local pport tpid
  command -v tinyproxy > /dev/null || fail "tinyproxy is not installed (scripts/setup)"
  pport=$(BARESPICE_TEST_PORT=$((TLS_PORT + 30)) free_port)
  # No ConnectPort line: CONNECT is allowed to any port (tinyproxy.conf(5)).
  cat > "$CASE_DIR/tinyproxy.conf" <<EOF
Port $pport
Listen 127.0.0.1
Timeout 600
LogLevel Connect
LogFile "$CASE_DIR/tinyproxy.log"
PidFile "$CASE_DIR/tinyproxy.pid"
MaxClients 20
Allow 127.0.0.1
EOF
  tinyproxy -d -c "$CASE_DIR/tinyproxy.conf" > "$CASE_DIR/tinyproxy.out" 2>&1 &
  tpid=$!
  for _ in $(seq 1 50); do ss -Hltn "sport = :$pport" | grep -q . && break; sleep 0.1; done
  tls_vv "$CASE_DIR/proxy.vv" 127.0.0.1 "proxy=http://127.0.0.1:$pport"
  tls_client "$CASE_DIR/proxy.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60 || { kill "$tpid"; fail "client failed through tinyproxy"; }
  kill "$tpid" 2>/dev/null || true
  grep -c "CONNECT" "$CASE_DIR/tinyproxy.log" || true
  grep -q "127.0.0.1:$TLS_PORT" "$CASE_DIR/tinyproxy.log" || fail "tinyproxy's log shows no CONNECT to the TLS port"
  expect_same "$CASE_DIR/snap.png"
  echo "through tinyproxy (HTTP CONNECT): snapshot == screendump"
}

tls_proxy_pve() {
  tls_spiceproxy_start "$CASE_DIR"
  getent hosts "${TLS_TICKET_HOST%%:*}" && fail "the ticket name resolves locally; the test would prove nothing"
  tls_vv "$CASE_DIR/pve.vv" "$TLS_TICKET_HOST" "proxy=http://127.0.0.1:$TLS_SPICEPROXY_PORT" \
    "delete-this-file=1" "secure-attention=Ctrl+Alt+Ins" "toggle-fullscreen=Shift+F11" "release-cursor=Ctrl+Alt+R"
  tls_client "$CASE_DIR/pve.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60 || { tls_spiceproxy_stop; fail "client failed through spiceproxy"; }
  tls_spiceproxy_stop
  cat "$CASE_DIR/spiceproxy.log"
  [ ! -e "$CASE_DIR/pve.vv" ] || fail "delete-this-file=1 but the connection file is still there"
  [ "$(grep -c '^routed by Host:' "$CASE_DIR/spiceproxy.log")" -ge 4 ] || fail "the proxy did not route every channel"
  expect_same "$CASE_DIR/snap.png"
  echo "through the Proxmox-style proxy (routed by Host:), file deleted: snapshot == screendump"
}

tls_capture() {
  local cpid
  command -v tcpdump > /dev/null || fail "tcpdump is not installed (scripts/setup)"
  tcpdump -i lo -U -s 0 -w "$CASE_DIR/lo.pcap" "tcp port $TLS_PORT" > "$CASE_DIR/tcpdump.out" 2>&1 &
  cpid=$!
  sleep 1
  tls_vv "$CASE_DIR/cap.vv" 127.0.0.1
  tls_client "$CASE_DIR/cap.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 500 --timeout-s 60 || { kill "$cpid"; fail "client failed"; }
  sleep 1
  kill -INT "$cpid"; wait "$cpid" || true
  cat "$CASE_DIR/tcpdump.out"
  [ "$(stat -c %s "$CASE_DIR/lo.pcap")" -gt 100000 ] || fail "capture too small: the session was not captured"
  "$PY" - "$CASE_DIR/lo.pcap" "$TLS_PW" <<'EOF' || fail "the password appears in the capture"
import sys
data = open(sys.argv[1], "rb").read()
pw = sys.argv[2].encode()
hits = [pw, pw.upper(), pw.decode().encode("utf-16-le")]
assert b"\x16\x03" in data, "no TLS handshake record in the capture"
found = [h for h in hits if h in data]
print(f"capture: {len(data)} bytes, TLS records present, password found: {bool(found)}")
sys.exit(1 if found else 0)
EOF
  echo "loopback capture ($(stat -c %s "$CASE_DIR/lo.pcap") bytes): no plaintext password"
}

tls_host_mix() {
  tls_vv "$CASE_DIR/mix.vv" 127.0.0.1 "port=$LAB_PORT" "secure-channels=main;display"
  tls_client "$CASE_DIR/mix.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 60 --log 2> "$CASE_DIR/client.log"
  grep -v ' dirty ' "$CASE_DIR/client.log"
  for ch in main display; do
    grep -Eq "^barespice-host: $ch channel 0: TLSv1_[23] handshake" "$CASE_DIR/client.log" || fail "$ch channel did not use TLS"
  done
  for ch in inputs cursor; do
    ! grep -q "^barespice-host: $ch channel 0: TLS" "$CASE_DIR/client.log" || fail "$ch channel used TLS"
    grep -q "^barespice-host: $ch channel 0 linked" "$CASE_DIR/client.log" || fail "$ch channel did not link in plaintext"
  done
  ! grep -q "server requires TLS" "$CASE_DIR/client.log" || fail "secure-channels should have avoided NEED_SECURED"
  expect_same "$CASE_DIR/snap.png"
  echo "main+display TLS, inputs+cursor plaintext: snapshot == screendump"
}

# ---- the firmware (virt) over TLS ------------------------------------------------

# tls_fw_start DIR VV EXPECT_REGEX LIMIT_S: boot the firmware with connection file
# VV (scripts/emulate, own session) until its log matches EXPECT_REGEX.
tls_fw_start() {
  local dir=$1 vv=$2 re=$3 limit=$4 t0=$SECONDS
  emu_stop "$dir"
  mkdir -p "$dir"
  FW_QMP=$dir/qmp.sock
  FW_LOG=$dir/serial.log
  rm -f "$FW_LOG"
  echo "+ scripts/emulate --board virt --no-build --config $vv --append barespice.display=1:1 --qmp $FW_QMP --serial-log $FW_LOG --display none"
  setsid "$REPO/scripts/emulate" --board virt --no-build --config "$vv" --append "barespice.display=1:1" --qmp "$FW_QMP" --serial-log "$FW_LOG" \
    --display none --timeout 600 > "$dir/emulate.out" 2>&1 < /dev/null &
  echo $! > "$dir/emulate.pid"
  until grep -aEq "$re" "$FW_LOG" 2>/dev/null; do
    emu_alive "$dir" || { cat "$dir/emulate.out"; tail -n 20 "$FW_LOG"; fail "the emulated firmware exited"; }
    [ $((SECONDS - t0)) -lt "$limit" ] || { tail -n 30 "$FW_LOG"; fail "no /$re/ from the firmware within $limit s"; }
    sleep 0.5
  done
  echo "firmware: /$re/ after $((SECONDS - t0)) s: $(grep -aEm1 "$re" "$FW_LOG")"
}

tls_fw_ready() {
  [ -z "$FW_BUILD_ERROR" ] || fail "$FW_BUILD_ERROR"
  [ -f "$FW_ELF" ] || fail "no firmware at $FW_ELF (the build step did not run)"
}

tls_fw_all() {
  local dir=$CASE_DIR/fw
  tls_fw_ready
  tls_spiceproxy_start "$CASE_DIR"
  tls_vv "$CASE_DIR/fw.vv" "$TLS_TICKET_HOST" "proxy=http://10.0.2.2:$TLS_SPICEPROXY_PORT" "delete-this-file=1"
  tls_fw_start "$dir" "$CASE_DIR/fw.vv" 'timeline: first frame' 150 || { tls_spiceproxy_stop; exit 1; }
  fw_expect_desktop 20 || { emu_stop "$dir"; tls_spiceproxy_stop; exit 1; }
  cat "$CASE_DIR/match.txt"
  emu_stop "$dir"
  tls_spiceproxy_stop
  cat "$CASE_DIR/spiceproxy.log"
  grep -a 'timeline: tls' "$FW_LOG"
  for ch in main display inputs cursor; do
    grep -aEq "timeline: tls $ch channel handshake [0-9]+ ms \(TLSv1_[23]\)" "$FW_LOG" || fail "no TLS handshake on the $ch channel"
  done
  grep -aq 'clock unknown' "$FW_LOG" || fail "the firmware did not say its clock is unknown"
  ! grep -aq "$TLS_PW" "$FW_LOG" || fail "the password is in the serial log"
  "$REPO/scripts/boot-timeline" --log "$FW_LOG" | tee "$CASE_DIR/timeline.txt"
  grep -q 'tls main' "$CASE_DIR/timeline.txt" || fail "boot-timeline shows no TLS handshake"
  echo "firmware over TLS through the Proxmox-style proxy: screen == server screendump ($(grep -ac 'timeline: tls' "$FW_LOG") TLS channels)"
}

# tls_fw_refused NAME VV REGEX [FIRST]: the firmware shows REGEX on its status
# screen (the serial log carries the step text), twice (it retries), and is
# still alive. FIRST: the first failure line to wait for (default: a Connect,
# Authentication or SpiceLink step failed).
tls_fw_refused() {
  local name=$1 vv=$2 re=$3 dir=$CASE_DIR/fw-$1 n
  tls_fw_start "$dir" "$vv" "${4:-step (Connect|Authentication|SpiceLink): failed}" 90
  until [ "$(grep -aEc "$re" "$FW_LOG")" -ge 2 ]; do
    emu_alive "$dir" || fail "$name: the firmware died"
    n=$((${n:-0} + 1)); [ "$n" -lt 60 ] || { tail -n 20 "$FW_LOG"; fail "$name: no second /$re/ (no retry?)"; }
    sleep 0.5
  done
  grep -aEm1 "$re" "$FW_LOG"
  grep -aq 'reconnecting in' "$FW_LOG" || fail "$name: no reconnect announced"
  ! grep -aEq 'panic|fatal' "$FW_LOG" || fail "$name: the firmware crashed"
  ! grep -aq "$TLS_PW" "$FW_LOG" || fail "$name: the password is in the serial log"
  emu_alive "$dir" || fail "$name: the firmware died"
  emu_stop "$dir"
  echo "$name: refused twice, still running"
}

tls_fw_refusals() {
  local spid eport
  tls_fw_ready
  tls_vv "$CASE_DIR/wrong-ca.vv" 10.0.2.2 "reconnect-max=2" "ca=$(tls_pem "$TLS_DIR/other/ca-cert.pem")"
  tls_fw_refused wrong-ca "$CASE_DIR/wrong-ca.vv" 'failed: certificate untrusted: not issued by the CA'
  tls_vv "$CASE_DIR/wrong-subject.vv" 10.0.2.2 "reconnect-max=2" "host-subject=OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve2"
  tls_fw_refused wrong-subject "$CASE_DIR/wrong-subject.vv" 'failed: certificate mismatch: expected host-subject .*CN=pve2'
  tls_vv "$CASE_DIR/wrong-password.vv" 10.0.2.2 "reconnect-max=2" "password=not-the-ticket"
  tls_fw_refused wrong-password "$CASE_DIR/wrong-password.vv" 'failed: wrong password, or ticket expired or already used, get a new connection file'
  eport=$(BARESPICE_TEST_PORT=$((TLS_PORT + 10)) free_port)
  openssl s_server -quiet -accept "127.0.0.1:$eport" -cert "$TLS_DIR/expired/server-cert.pem" \
    -key "$TLS_DIR/server/server-key.pem" > "$CASE_DIR/s_server.log" 2>&1 &
  spid=$!
  tls_vv "$CASE_DIR/expired.vv" 10.0.2.2 "reconnect-max=2" "tls-port=$eport"
  tls_fw_refused expired "$CASE_DIR/expired.vv" 'failed: certificate expired on 2021-01-01 \(clock unknown, firmware build date' || { kill "$spid"; exit 1; }
  kill "$spid" 2>/dev/null || true
  # SNTP (x-barespice-ntp): a server of ours answers 2019-06-01, before the
  # real certificate's notBefore, so the firmware must call it not yet valid.
  local nport npid
  nport=$((TLS_PORT + 40))
  "$PY" -c '
import socket, struct, sys, calendar
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
t = calendar.timegm((2019, 6, 1, 12, 0, 0)) + 2208988800
while True:
    data, peer = s.recvfrom(512)
    if len(data) >= 48:
        reply = bytes([0x24, 2, 0, 0]) + bytes(20) + data[40:48] + struct.pack(">II", t, 0) * 2
        s.sendto(reply, peer)
        print("sntp: answered", peer, flush=True)
' "$nport" > "$CASE_DIR/sntp.log" 2>&1 &
  npid=$!
  tls_vv "$CASE_DIR/sntp.vv" 10.0.2.2 "reconnect-max=2" "x-barespice-ntp=10.0.2.2:$nport"
  tls_fw_refused not-yet-valid "$CASE_DIR/sntp.vv" 'failed: certificate not valid before [0-9-]+ \(clock 2019-06-01\)' || { kill "$npid"; exit 1; }
  kill "$npid" 2>/dev/null || true
  grep -aq 'clock: SNTP 10.0.2.2:[0-9]*: 2019-06-01' "$FW_LOG" || fail "no SNTP clock line"
  echo "firmware: wrong CA, wrong host-subject, wrong password, expired certificate, not yet valid (SNTP clock) each shown, retried without crashing"
}

# tls_fw_cases FLAGS: the firmware cases on the TLS server (FLAGS as run_case's).
# tls_fw_mix: the firmware with main+display on TLS and inputs+cursor in
# plaintext (the second server's tls-channel/plaintext-channel split).
tls_fw_mix() {
  local dir=$CASE_DIR/fw ch
  tls_fw_ready
  tls_vv "$CASE_DIR/fw-mix.vv" 10.0.2.2 "port=$LAB_PORT" "secure-channels=main;display" "reconnect-max=2"
  tls_fw_start "$dir" "$CASE_DIR/fw-mix.vv" 'timeline: first frame' 150 || exit 1
  fw_expect_desktop 20 || { emu_stop "$dir"; exit 1; }
  cat "$CASE_DIR/match.txt"
  emu_stop "$dir"
  grep -a 'timeline: tls' "$FW_LOG"
  for ch in main display; do
    grep -aEq "timeline: tls $ch channel handshake" "$FW_LOG" || fail "the $ch channel did not use TLS"
  done
  for ch in inputs cursor; do
    ! grep -aEq "timeline: tls $ch channel handshake" "$FW_LOG" || fail "the $ch channel used TLS"
  done
  ! grep -aq "$TLS_PW" "$FW_LOG" || fail "the password is in the serial log"
  echo "firmware: main+display TLS, inputs+cursor plaintext: screen == server screendump"
}

tls_fw_cases() {
  any_selected tls-fw-all tls-fw-refusals || return 0
  [ -s "$E2E_OUT/build-firmware.log" ] || fw_build
  run_case tls-fw-all "$1" tls_fw_all
  run_case tls-fw-refusals "$1" tls_fw_refusals
}

# tls_cases: make the PKI, then run the tls-* cases on one TLS server (and the
# mix case on a second configuration, last).
tls_cases() {
  any_selected tls-host-all tls-host-secured tls-host-refusals tls-proxy-tinyproxy tls-proxy-pve tls-capture \
    tls-fw-all tls-fw-refusals tls-host-mix tls-fw-mix || return 0
  TLS_DIR=$E2E_OUT/tls-pki
  rm -rf "$TLS_DIR"
  if ! tls_pki "$TLS_DIR"; then
    echo "tls: openssl could not make the test certificates"
  fi
  echo "$TLS_PW" > "$TLS_DIR/password"
  TLS_PORT=$(BARESPICE_TEST_PORT=$(( ${BARESPICE_TEST_PORT:-5990} + 50 )) free_port)
  local flags="--password-file $TLS_DIR/password --tls-port $TLS_PORT --x509-dir $TLS_DIR/server"
  run_case tls-host-all "$flags --tls-channel default" tls_host_all
  run_case tls-host-secured "$flags --tls-channel default" tls_host_secured
  run_case tls-host-refusals "$flags --tls-channel default" tls_host_refusals
  run_case tls-proxy-tinyproxy "$flags --tls-channel default" tls_proxy_tinyproxy
  run_case tls-proxy-pve "$flags --tls-channel default" tls_proxy_pve
  run_case tls-capture "$flags --tls-channel default" tls_capture
  tls_fw_cases "$flags --tls-channel default"
  local mix="$flags --tls-channel main --tls-channel display --plaintext-channel inputs --plaintext-channel cursor"
  run_case tls-host-mix "$mix" tls_host_mix
  if selected tls-fw-mix; then
    [ -s "$E2E_OUT/build-firmware.log" ] || fw_build
    run_case tls-fw-mix "$mix" tls_fw_mix
  fi
}
