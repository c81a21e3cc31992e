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
# Not covered here: the firmware (it does not call the API yet).

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

pve_cases() {
  any_selected pve-host-cold pve-host-expiry pve-host-refusals || return 0
  TLS_DIR=$E2E_OUT/pve-pki/spice
  PVE_DIR=$E2E_OUT/pve-pki
  rm -rf "$PVE_DIR"
  tls_pki "$TLS_DIR" || echo "pve: openssl could not make the SPICE test certificates"
  tls_pki "$PVE_DIR/api" || echo "pve: openssl could not make the API test certificates"
  echo "never-used-$RANDOM" > "$PVE_DIR/password"
  TLS_PORT=$(BARESPICE_TEST_PORT=$(( ${BARESPICE_TEST_PORT:-5990} + 60 )) free_port)
  local flags="--password-file $PVE_DIR/password --tls-port $TLS_PORT --x509-dir $TLS_DIR/server --tls-channel default"
  run_case pve-host-cold "$flags" pve_host_cold
  run_case pve-host-expiry "$flags" pve_host_expiry
  run_case pve-host-refusals "$flags" pve_host_refusals
}
