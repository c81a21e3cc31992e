# Proxmox kiosk end-to-end cases (issue 17), sourced by scripts/test after
# tests/e2e/tls.sh (whose PKI, connection-file and spiceproxy helpers it uses).
#
# Owns: the Proxmox API stand-in (tests/e2e/pve_api.py: HTTPS with its own
# openssl CA, token check, VM status/start, spiceproxy issuing real one-time
# passwords through the lab server's QMP set_password/expire_password) and
# what the pve-* cases check, with barespice-host reading x-barespice-pve-*
# keys:
#   pve-host-cold       VM "stopped": the client asks for the status, starts
#                       it, waits, gets a ticket, connects through the
#                       Proxmox-style proxy: snapshot == screendump
#   pve-host-expiry     a ticket fetched with curl works once fresh, is
#                       refused after a newer one was issued and after 40 s;
#                       the client with pve keys then still ends pixel-exact
#                       (it fetched a fresh ticket)
#   pve-host-refusals   wrong token (401), wrong API key pin, unknown VM id:
#                       each one line naming the reason, no secret in it
#   pve-fw-cold         the firmware (virt) with only pve keys (API trusted by
#                       its CA, host 10.0.2.2 in the certificate): the status
#                       screen steps "starting VM 104", "asking Proxmox for a
#                       ticket"; its screen == the server's screendump
#   pve-fw-expiry       the firmware (API trusted by key pin) connected; once
#                       its ticket is older than 40 s the spiceproxy is
#                       restarted (the session drops, the server still runs
#                       and would refuse that ticket): back pixel-exact; then
#                       a lab server restart: back pixel-exact again; a fresh
#                       ticket each time, never an authentication failure
#   pve-fw-refusals     wrong token, wrong API key pin, unknown VM id: the
#                       firmware's "Proxmox API" step shows each reason (serial
#                       log), twice (it retries), no secret in the log

PVE_DIR=""
PVE_API_PORT=""
PVE_API_PID=""
PVE_TOKEN='kiosk@pve!room1'
PVE_SECRET="4b1d-pve-secret-9c"

# pve_vv OUT [KEY=VALUE...]: a kiosk connection file with only pve keys.
pve_vv() {
  local out=$1
  shift
  {
    echo "[virt-viewer]"
    printf '%s\n' "type=spice" "x-barespice-pve-api=https://127.0.0.1:$PVE_API_PORT" \
      "x-barespice-pve-token=$PVE_TOKEN" "x-barespice-pve-secret=$PVE_SECRET" \
      "x-barespice-pve-node=lab" "x-barespice-pve-vmid=104" "x-barespice-pve-start=1" \
      "x-barespice-pve-ca=$(tls_pem "$PVE_DIR/api/server/ca-cert.pem")" "$@"
  } | awk -F= 'NR == 1 { print; next } { k = $1; v[k] = $0; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
               END { for (i = 1; i <= n; i++) if (v[order[i]] != order[i] "=") print v[order[i]] }' > "$out"
}

# pve_api_start DIR: the API stand-in (parent of the case's processes).
pve_api_start() {
  PVE_API_PORT=$(BARESPICE_TEST_PORT=$((TLS_PORT + 30)) free_port)
  "$PY" "$REPO/tests/e2e/pve_api.py" --port "$PVE_API_PORT" \
    --cert "$PVE_DIR/api/server/server-cert.pem" --key "$PVE_DIR/api/server/server-key.pem" \
    --token "$PVE_TOKEN" --secret "$PVE_SECRET" --node lab --vmid 104 --name kiosk --qmp "$LAB_QMP" \
    --spice-host "$TLS_TICKET_HOST" --tls-port "$TLS_PORT" --proxy "http://127.0.0.1:$TLS_SPICEPROXY_PORT" \
    --ca-file "$TLS_DIR/server/ca-cert.pem" --subject "$TLS_SUBJECT" --ticket-log "$1/tickets.log" > "$1/api.log" 2>&1 &
  PVE_API_PID=$!
  for _ in $(seq 1 50); do ss -Hltn "sport = :$PVE_API_PORT" | grep -q . && return 0; sleep 0.1; done
  fail "pve_api.py did not start"
}
pve_stop() {
  [ -z "$PVE_API_PID" ] || kill "$PVE_API_PID" 2>/dev/null || true
  tls_spiceproxy_stop
}

pve_up() {
  tls_spiceproxy_start "$CASE_DIR"
  pve_api_start "$CASE_DIR"
  trap pve_stop EXIT
}

pve_host_cold() {
  pve_up
  pve_vv "$CASE_DIR/kiosk.vv"
  tls_client "$CASE_DIR/kiosk.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 90 2> "$CASE_DIR/client.log" \
    || { cat "$CASE_DIR/client.log" "$CASE_DIR/api.log"; fail "kiosk client failed"; }
  cat "$CASE_DIR/client.log" "$CASE_DIR/api.log"
  grep -q "^barespice-host: pve: starting VM 104" "$CASE_DIR/client.log" || fail "the client did not start the VM"
  grep -q "^barespice-host: pve: asking Proxmox for a ticket" "$CASE_DIR/client.log" || fail "no ticket step"
  grep -q "POST /api2/json/nodes/lab/qemu/104/status/start -> 200" "$CASE_DIR/api.log" || fail "no start call"
  grep -q "POST /api2/json/nodes/lab/qemu/104/spiceproxy -> 200" "$CASE_DIR/api.log" || fail "no spiceproxy call"
  ! grep -q "$PVE_SECRET" "$CASE_DIR/client.log" || fail "the token secret is in the client's output"
  [ "$(grep -c '^routed by Host:' "$CASE_DIR/spiceproxy.log")" -ge 4 ] || fail "the proxy did not route every channel"
  expect_same "$CASE_DIR/snap.png"
  echo "cold boot: VM started, ticket fetched, through the proxy: snapshot == screendump"
}

# pve_curl_ticket OUT.vv: a ticket fetched by curl (an independent HTTP client), as a .vv file.
pve_curl_ticket() {
  curl -sS --cacert "$PVE_DIR/api/server/ca-cert.pem" -X POST \
    -H "Authorization: PVEAPIToken=$PVE_TOKEN=$PVE_SECRET" \
    "https://127.0.0.1:$PVE_API_PORT/api2/json/nodes/lab/qemu/104/spiceproxy" > "$1.json"
  "$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))["data"]
print("[virt-viewer]")
for k in ("type", "host", "proxy", "tls-port", "password", "host-subject"):
    print(f"{k}={d[k]}")
print("ca=" + d["ca"].replace("\n", "\\n"))' "$1.json" > "$1"
}

pve_host_expiry() {
  pve_up
  # the VM must run for spiceproxy; the stand-in starts it on request.
  curl -sS --cacert "$PVE_DIR/api/server/ca-cert.pem" -X POST -H "Authorization: PVEAPIToken=$PVE_TOKEN=$PVE_SECRET" \
    "https://127.0.0.1:$PVE_API_PORT/api2/json/nodes/lab/qemu/104/status/start" > /dev/null
  sleep 2.5
  pve_curl_ticket "$CASE_DIR/old.vv"
  tls_client "$CASE_DIR/old.vv" --snapshot "$CASE_DIR/fresh.png" --idle-ms 1500 --timeout-s 60 2> "$CASE_DIR/fresh.err" \
    || { cat "$CASE_DIR/fresh.err"; fail "a fresh ticket did not work"; }
  pve_curl_ticket "$CASE_DIR/new.vv"
  local rc=0
  tls_client "$CASE_DIR/old.vv" --snapshot "$CASE_DIR/reuse.png" --timeout-s 30 2> "$CASE_DIR/reuse.err" || rc=$?
  cat "$CASE_DIR/reuse.err"
  [ "$rc" = 10 ] || fail "a replaced ticket: exit $rc, expected 10 (ticket expired or already used)"
  echo "waiting 41 s for the newest ticket to expire"
  sleep 41
  rc=0
  tls_client "$CASE_DIR/new.vv" --snapshot "$CASE_DIR/late.png" --timeout-s 30 2> "$CASE_DIR/late.err" || rc=$?
  cat "$CASE_DIR/late.err"
  [ "$rc" = 10 ] || fail "a 41 s old ticket: exit $rc, expected 10"
  pve_vv "$CASE_DIR/kiosk.vv"
  tls_client "$CASE_DIR/kiosk.vv" --snapshot "$CASE_DIR/snap.png" --idle-ms 1500 --timeout-s 90 2> "$CASE_DIR/client.log" \
    || { cat "$CASE_DIR/client.log"; fail "kiosk client failed after expiry"; }
  expect_same "$CASE_DIR/snap.png"
  echo "tickets expire (replaced: refused; 41 s old: refused); the kiosk fetched a fresh one: snapshot == screendump"
}

# pve_refusal NAME REGEX VV: the client fails with one line matching REGEX.
pve_refusal() {
  local name=$1 re=$2 vv=$3 rc=0
  tls_client "$vv" --snapshot "$CASE_DIR/$name.png" --timeout-s 30 2> "$CASE_DIR/$name.err" || rc=$?
  cat "$CASE_DIR/$name.err"
  [ "$rc" != 0 ] || fail "$name: the client succeeded"
  grep -Eq "$re" "$CASE_DIR/$name.err" || fail "$name: no line matching /$re/"
  ! grep -q "$PVE_SECRET" "$CASE_DIR/$name.err" || fail "$name: the token secret is shown"
  [ ! -e "$CASE_DIR/$name.png" ] || fail "$name: wrote a snapshot"
}

pve_host_refusals() {
  pve_up
  pve_vv "$CASE_DIR/token.vv" "x-barespice-pve-secret=wrong-secret"
  pve_refusal token 'refused the API token \(401\)' "$CASE_DIR/token.vv"
  local pin
  pin=$(openssl x509 -pubkey -noout -in "$TLS_DIR/other/ca-cert.pem" | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
  pve_vv "$CASE_DIR/pin.vv" "x-barespice-pve-ca=" "x-barespice-pve-pubkey-sha256=$pin"
  pve_refusal pin 'Proxmox API: certificate untrusted: .*x-barespice-pve-pubkey-sha256' "$CASE_DIR/pin.vv"
  pve_vv "$CASE_DIR/vmid.vv" "x-barespice-pve-vmid=999"
  pve_refusal vmid "VM not found: VM 999 on node lab: Configuration file 'nodes/lab/qemu-server/999.conf' does not exist" "$CASE_DIR/vmid.vv"
  echo "wrong token, wrong API pin, unknown VM: each refused with its reason"
}

# ---- the firmware (virt) as a Proxmox kiosk ----------------------------------------

# pve_fw_vv OUT [KEY=VALUE...]: a kiosk file for the firmware (QEMU user
# networking: the API is at 10.0.2.2), reconnect back-off capped at 2 s.
pve_fw_vv() {
  local out=$1
  shift
  pve_vv "$out" "x-barespice-pve-api=https://10.0.2.2:$PVE_API_PORT" "reconnect-max=2" "$@"
}

# pve_fw_up: the proxy and the API stand-in; on exit they and the case's
# emulated firmware clients ($CASE_DIR/fw*) are stopped.
pve_fw_up() {
  tls_fw_ready
  tls_spiceproxy_start "$CASE_DIR"
  pve_api_start "$CASE_DIR"
  trap pve_fw_stop EXIT
}
pve_fw_stop() {
  local d
  for d in "$CASE_DIR"/fw*/; do emu_stop "$d"; done
  pve_stop
}

# pve_api_pin: SHA-256 of the API certificate's public key.
pve_api_pin() {
  openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1
}

# pve_fw_secrets: neither the token secret nor the stand-in's passwords are in the serial log.
pve_fw_secrets() {
  ! grep -aq "$PVE_SECRET" "$FW_LOG" || fail "the token secret is in the firmware's log"
  ! grep -aiq 'PVEAPIToken' "$FW_LOG" || fail "an API request is in the firmware's log"
}

# pve_wait_count FILE REGEX N LIMIT_S WHAT: until FILE has N lines matching REGEX.
pve_wait_count() {
  local t0=$SECONDS
  until [ "$(grep -aEc "$2" "$1")" -ge "$3" ]; do
    [ $((SECONDS - t0)) -lt "$4" ] || { tail -n 25 "$FW_LOG"; fail "$5"; }
    sleep 0.5
  done
}

pve_fw_cold() {
  local dir=$CASE_DIR/fw
  pve_fw_up
  pve_fw_vv "$CASE_DIR/kiosk.vv"
  tls_fw_start "$dir" "$CASE_DIR/kiosk.vv" 'timeline: first frame' 150
  fw_expect_desktop 20
  cat "$CASE_DIR/match.txt"
  emu_stop "$dir"
  cat "$CASE_DIR/api.log"
  grep -a 'step Proxmox' "$FW_LOG"
  grep -aq 'step Proxmox: Active starting VM 104' "$FW_LOG" || fail "no 'starting VM 104' step"
  grep -aq 'step Proxmox: Active asking Proxmox for a ticket' "$FW_LOG" || fail "no 'asking Proxmox for a ticket' step"
  grep -aq 'step Proxmox: Done fresh ticket' "$FW_LOG" || fail "no ticket step done"
  grep -aq 'timeline: tls proxmox-api channel handshake' "$FW_LOG" || fail "no TLS handshake with the API"
  grep -q "POST /api2/json/nodes/lab/qemu/104/status/start -> 200" "$CASE_DIR/api.log" || fail "no start call"
  grep -q "form body: 'proxy=10.0.2.2'" "$CASE_DIR/api.log" || fail "spiceproxy was not asked for the proxy at the API's host"
  [ "$(grep -c '^routed by Host:' "$CASE_DIR/spiceproxy.log")" -ge 4 ] || fail "the proxy did not route every channel"
  pve_fw_secrets
  echo "firmware kiosk: VM started, ticket fetched, SPICE through the proxy: screen == server screendump"
}

# pve_lab_restart: kill the lab server and start it again (same port, run
# directory and flags; the harness then finds it alive and keeps sharing it).
pve_lab_restart() {
  local pid
  pid=$(cat "$LAB_PIDFILE")
  echo "restarting the lab server (pid $pid, port $LAB_PORT)"
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  "$REPO/scripts/lab-server" --port "$LAB_PORT" --run-dir "$LAB_RUN_DIR" --daemon $LAB_FLAGS \
    > "$CASE_DIR/lab-server.log" 2>&1 || { tail -n 20 "$CASE_DIR/lab-server.log"; fail "the lab server did not restart"; }
}

pve_fw_expiry() {
  local dir=$CASE_DIR/fw t_ticket wait
  pve_fw_up
  pve_fw_vv "$CASE_DIR/kiosk.vv" "x-barespice-pve-ca=" \
    "x-barespice-pve-pubkey-sha256=$(pve_api_pin "$PVE_DIR/api/server/server-cert.pem")"
  tls_fw_start "$dir" "$CASE_DIR/kiosk.vv" 'step Proxmox: Done fresh ticket' 150
  t_ticket=$SECONDS
  pve_wait_count "$FW_LOG" 'timeline: first frame' 1 60 "no first frame"
  fw_expect_desktop 20
  wait=$((41 - (SECONDS - t_ticket)))
  if [ "$wait" -gt 0 ]; then echo "waiting $wait s until the firmware's ticket is 41 s old"; sleep "$wait"; fi
  echo "restarting the spiceproxy: the session drops, the server keeps running"
  tls_spiceproxy_stop
  sleep 0.5
  tls_spiceproxy_start "$CASE_DIR"
  pve_wait_count "$CASE_DIR/api.log" 'spiceproxy -> 200' 2 60 "no second ticket after the proxy restart"
  pve_wait_count "$FW_LOG" 'timeline: first frame' 2 60 "no desktop after the proxy restart"
  fw_expect_desktop 20
  cat "$CASE_DIR/match.txt"
  pve_lab_restart
  pve_wait_count "$CASE_DIR/api.log" 'spiceproxy -> 200' 3 90 "no third ticket after the lab server restart"
  pve_wait_count "$FW_LOG" 'timeline: first frame' 3 60 "no desktop after the lab server restart"
  fw_expect_desktop 20
  cat "$CASE_DIR/match.txt"
  emu_stop "$dir"
  cat "$CASE_DIR/api.log"
  grep -aE 'step (Proxmox|Authentication)|reconnecting in' "$FW_LOG"
  ! grep -aq 'step Authentication: failed' "$FW_LOG" || fail "the firmware used a stale ticket"
  pve_fw_secrets
  echo "firmware: ticket > 40 s old, proxy restarted: fresh ticket, exact; lab server restarted: fresh ticket, exact ($(grep -c 'spiceproxy -> 200' "$CASE_DIR/api.log") tickets)"
}

pve_fw_refusals() {
  local pin
  pve_fw_up
  pve_fw_vv "$CASE_DIR/token.vv" "x-barespice-pve-secret=wrong-secret"
  tls_fw_refused token "$CASE_DIR/token.vv" 'step Proxmox: failed: Proxmox refused the API token \(401\)' 'step Proxmox: failed'
  pin=$(pve_api_pin "$TLS_DIR/other/ca-cert.pem")
  pve_fw_vv "$CASE_DIR/pin.vv" "x-barespice-pve-ca=" "x-barespice-pve-pubkey-sha256=$pin"
  tls_fw_refused pin "$CASE_DIR/pin.vv" 'step Proxmox: failed: Proxmox API: certificate untrusted: .*x-barespice-pve-pubkey-sha256' 'step Proxmox: failed'
  pve_fw_vv "$CASE_DIR/vmid.vv" "x-barespice-pve-vmid=999"
  tls_fw_refused vmid "$CASE_DIR/vmid.vv" "step Proxmox: failed: VM not found: VM 999 on node lab: Configuration file 'nodes/lab/qemu-server/999.conf' does not exist" 'step Proxmox: failed'
  for n in token pin vmid; do
    FW_LOG=$CASE_DIR/fw-$n/serial.log pve_fw_secrets
  done
  ! grep -q 'spiceproxy -> 200' "$CASE_DIR/api.log" || fail "a ticket was issued to a refused kiosk"
  echo "firmware: wrong token, wrong API pin, unknown VM: each on the status screen, retried, no secret logged"
}

pve_cases() {
  any_selected pve-host-cold pve-host-expiry pve-host-refusals pve-fw-cold pve-fw-expiry pve-fw-refusals || return 0
  TLS_DIR=$E2E_OUT/pve-pki/spice
  PVE_DIR=$E2E_OUT/pve-pki
  rm -rf "$PVE_DIR"
  tls_pki "$TLS_DIR" || echo "pve: openssl could not make the SPICE test certificates"
  # The firmware reaches the API at 10.0.2.2 (QEMU user networking).
  tls_pki "$PVE_DIR/api" "DNS:spice.lab,IP:127.0.0.1,IP:10.0.2.2" || echo "pve: openssl could not make the API test certificates"
  echo "never-used-$RANDOM" > "$PVE_DIR/password"
  TLS_PORT=$(BARESPICE_TEST_PORT=$(( ${BARESPICE_TEST_PORT:-5990} + 60 )) free_port)
  local flags="--password-file $PVE_DIR/password --tls-port $TLS_PORT --x509-dir $TLS_DIR/server --tls-channel default"
  run_case pve-host-cold "$flags" pve_host_cold
  run_case pve-host-expiry "$flags" pve_host_expiry
  run_case pve-host-refusals "$flags" pve_host_refusals
  if any_selected pve-fw-cold pve-fw-expiry pve-fw-refusals; then
    [ -s "$E2E_OUT/build-firmware.log" ] || fw_build
  fi
  run_case pve-fw-cold "$flags" pve_fw_cold
  run_case pve-fw-refusals "$flags" pve_fw_refusals
  # Last: it restarts the lab server (same flags, so it stays shared).
  run_case pve-fw-expiry "$flags" pve_fw_expiry
}
