# shellcheck shell=bash
# End-to-end test harness, sourced by scripts/test.
#
# Owns: running named cases with PASS/FAIL/SKIP bookkeeping, the one shared lab
# server (restarted only when a case needs different server flags), running the
# client under a time limit, comparing its snapshot with QEMU's screendump, and
# starting/stopping an emulated firmware client (emu_start/emu_stop).
# Must not: hold test logic of its own (cases live in tests/e2e/cases.sh).
#
# Environment:
#   BARESPICE_TEST_FILTER  extended regex; only cases whose name matches run
#   BARESPICE_TEST_PORT    first SPICE port to try for the lab server (default 5990)
#   BARESPICE_TEST_OUT     where logs and pictures go (default out/test)

PY=/usr/bin/python3
E2E_OUT=${BARESPICE_TEST_OUT:-$REPO/out/test}
E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
E2E_FAILED_NAMES=()

# ---- case bookkeeping -------------------------------------------------------

# selected NAME: true when NAME passes BARESPICE_TEST_FILTER.
selected() {
  [ -z "${BARESPICE_TEST_FILTER:-}" ] || printf '%s\n' "$1" | grep -Eq -- "$BARESPICE_TEST_FILTER"
}

# run_case NAME LABFLAGS FUNCTION [ARGS...]: run one case in a subshell; its
# output goes to $E2E_OUT/NAME.log; exit 0 = PASS, 77 = SKIP (its last line
# says why), other = FAIL. LABFLAGS ("none" for no server) are the
# scripts/lab-server flags the case needs; the server is (re)started here in
# the parent shell so later cases can share it.
run_case() {
  local name=$1 flags=$2
  shift 2
  selected "$name" || return 0
  local log="$E2E_OUT/$name.log" rc t0 t1
  t0=$(date +%s)
  printf -- '--- %s\n' "$name"
  set +e
  if [ "$flags" != none ]; then
    # shellcheck disable=SC2086
    lab_ensure $flags 2> "$log"
  fi
  if [ "$flags" != none ] && [ "$LAB_UP" != 1 ]; then
    echo "lab server not available: ${LAB_ERROR:-unknown error}" >> "$log"
    rc=1
  else
    ( set -euo pipefail; CASE_NAME=$name; CASE_DIR="$E2E_OUT/$name"; rm -rf "$CASE_DIR"; mkdir -p "$CASE_DIR"; "$@" ) >> "$log" 2>&1
    rc=$?
  fi
  set -e
  t1=$(date +%s)
  if [ $rc = 0 ]; then
    E2E_PASSED=$((E2E_PASSED + 1))
    printf 'PASS %s (%ss) %s\n' "$name" $((t1 - t0)) "$(tail -n1 "$log")"
  elif [ $rc = 77 ]; then
    E2E_SKIPPED=$((E2E_SKIPPED + 1))
    printf 'SKIP %s: %s\n' "$name" "$(tail -n1 "$log")"
  else
    E2E_FAILED=$((E2E_FAILED + 1))
    E2E_FAILED_NAMES+=("$name")
    printf 'FAIL %s (%ss, exit %s); last lines of %s:\n' "$name" $((t1 - t0)) $rc "$log"
    tail -n 15 "$log" | sed 's/^/    /'
  fi
}

# any_selected NAME...: true when at least one of the names passes the filter
# (so a configuration's server is only booted when one of its cases will run).
any_selected() {
  local n
  for n in "$@"; do selected "$n" && return 0; done
  return 1
}

skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

summary() {
  echo
  [ ${#E2E_FAILED_NAMES[@]} = 0 ] || echo "failed cases: ${E2E_FAILED_NAMES[*]}"
  echo "summary: $E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"
  [ "$E2E_FAILED" = 0 ]
}

# ---- the shared lab server ----------------------------------------------------

LAB_FLAGS=""
LAB_UP=0
LAB_ERROR=""

free_port() {
  local p=${BARESPICE_TEST_PORT:-5990}
  while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}

lab_stop() {
  [ "$LAB_UP" = 1 ] || return 0
  local pid
  pid=$(cat "$LAB_PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  LAB_UP=0
  LAB_FLAGS=""
}

# lab_ensure FLAGS...: make sure the shared lab server runs with exactly these
# scripts/lab-server flags (reused when they match). Sets LAB_* from lab.env.
# On failure returns 1 with LAB_ERROR set; the next call with the same flags
# fails fast instead of booting again.
lab_ensure() {
  local want="$*"
  if [ "$LAB_UP" = 1 ] && [ "$want" = "$LAB_FLAGS" ] && kill -0 "$(cat "$LAB_PIDFILE" 2>/dev/null)" 2>/dev/null; then
    return 0
  fi
  if [ -n "$LAB_ERROR" ] && [ "$want" = "$LAB_FLAGS" ]; then
    return 1
  fi
  lab_stop
  local port log
  port=$(free_port)
  log="$E2E_OUT/lab-server-$port-$(date +%s%N).log"
  LAB_FLAGS=$want
  LAB_ERROR=""
  echo "lab: starting scripts/lab-server --port $port $want" >&2
  if ! "$REPO/scripts/lab-server" --port "$port" --run-dir "$E2E_OUT/lab-$port" --daemon "$@" > "$log" 2>&1; then
    LAB_ERROR="lab-server $want failed to start: $(grep -m1 'lab-server:' "$log" || tail -n1 "$log")"
    echo "lab: $LAB_ERROR" >&2
    return 1
  fi
  # shellcheck disable=SC1091
  . "$E2E_OUT/lab-$port/lab.env"
  export LAB_ENV="$E2E_OUT/lab-$port/lab.env"
  LAB_UP=1
  echo "lab: ready on port $LAB_PORT after ${LAB_BOOT_MS} ms" >&2
  BOOT_TIMES+=("$want: ${LAB_BOOT_MS} ms")
}
BOOT_TIMES=()

lab() { "$PY" "$REPO/scripts/lib/lab.py" "$@"; }
qmp() { "$PY" "$REPO/scripts/lib/qmp.py" "$LAB_QMP" "$@"; }
imgcmp() { "$PY" "$REPO/scripts/lib/imgcmp.py" "$@"; }

# ---- the client under test ------------------------------------------------------

HOST_BIN=${HOST_BIN:-}

need_client() {
  [ -n "$HOST_BIN" ] && [ -x "$HOST_BIN" ] || fail "barespice-host was not built (see the build step above)"
}

# client ARGS...: run barespice-host against the lab server (time-limited).
client() {
  need_client
  echo "+ barespice-host --server 127.0.0.1:$LAB_PORT $*"
  timeout --kill-after=5 "${CLIENT_TIMEOUT:-120}" "$HOST_BIN" --server "127.0.0.1:$LAB_PORT" "$@"
}

# expect_same SNAPSHOT: screendump once the display is static, then pixel-exact compare.
expect_same() {
  local snap=$1 dump="$CASE_DIR/screendump.png"
  [ -s "$snap" ] || fail "client wrote no snapshot at $snap"
  lab stable-dump "$dump"
  imgcmp "$snap" "$dump" || fail "client snapshot differs from the server's screendump"
}

# expect_psnr SNAPSHOT MIN_DB: screendump and PSNR at least MIN_DB.
expect_psnr() {
  local snap=$1 min=$2 dump="$CASE_DIR/screendump.png"
  [ -s "$snap" ] || fail "client wrote no snapshot at $snap"
  lab stable-dump "$dump"
  imgcmp "$snap" "$dump" --psnr --min-db "$min" || fail "PSNR below $min dB"
}

# ---- an emulated client (scripts/emulate), shared by firmware.sh and raspi.sh ----

# emu_alive DIR: true while the scripts/emulate started by emu_start DIR runs.
emu_alive() {
  local pid
  pid=$(cat "$1/emulate.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

# emu_start DIR BOARD WHAT TIMEOUT_S -- EMULATE_ARGS...: make sure an emulated
# client (named WHAT in messages) runs in DIR against the current lab server and
# has shown its first frame. One still running for this server port is kept;
# otherwise DIR is made afresh with a lab.vv for 10.0.2.2:LAB_PORT and
# scripts/emulate --board BOARD --no-build --config DIR/lab.vv --qmp DIR/qmp.sock
# --serial-log DIR/serial.log --display none EMULATE_ARGS... starts in its own
# session, then up to TIMEOUT_S seconds for 'timeline: first frame' in the log.
emu_start() {
  local dir=$1 board=$2 what=$3 limit=$4
  shift 4
  [ "${1:-}" = -- ] && shift
  local qmp_sock=$dir/qmp.sock log=$dir/serial.log
  if emu_alive "$dir" && [ "$(cat "$dir/port")" = "$LAB_PORT" ]; then
    echo "$what already running (pid $(cat "$dir/emulate.pid")), log $log"
    return 0
  fi
  emu_stop "$dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$LAB_PORT" > "$dir/port"
  printf '[virt-viewer]\ntype=spice\nhost=10.0.2.2\nport=%s\ntitle=barespice-lab\n' "$LAB_PORT" > "$dir/lab.vv"
  echo "+ scripts/emulate --board $board --no-build --config $dir/lab.vv --qmp $qmp_sock --serial-log $log --display none $*"
  # Own session: emu_stop can end the emulate pipeline (QEMU, tee,
  # defmt-print) as one process group if QMP quit is not enough.
  setsid "$REPO/scripts/emulate" --board "$board" --no-build --config "$dir/lab.vv" \
    --qmp "$qmp_sock" --serial-log "$log" --display none "$@" \
    > "$dir/emulate.out" 2>&1 < /dev/null &
  echo $! > "$dir/emulate.pid"
  local t0=$SECONDS
  until grep -aq 'timeline: first frame' "$log" 2>/dev/null; do
    emu_alive "$dir" || { cat "$dir/emulate.out"; tail -n 20 "$log" 2>/dev/null; fail "the emulated $what exited"; }
    [ $((SECONDS - t0)) -lt "$limit" ] || { tail -n 20 "$log"; fail "no first frame from $what within $limit s"; }
    sleep 0.5
  done
  echo "$what shows the remote desktop after $((SECONDS - t0)) s: $(grep -am1 'timeline: first frame' "$log")"
}

# emu_stop DIR: QMP quit, then the process group if it lingers (parent or case).
emu_stop() {
  local dir=$1 pid
  pid=$(cat "$dir/emulate.pid" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    "$PY" "$REPO/scripts/lib/qmp.py" "$dir/qmp.sock" quit > /dev/null 2>&1 || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/emulate.pid"
}

# kbd_replug_type QMP WAIT FROM TEXT ADD_ARGS...: after the client's keyboard
# kbd0 was unplugged, plugs a usb-kbd back (device_add with ADD_ARGS through the
# board's QMP function), waits (the board's WAIT function, log lines after FROM)
# until the firmware enumerated and bound it, and types TEXT on it, which the
# lab guest must see. Shared by the raspi and virt-xhci replug cases.
kbd_replug_type() {
  local qmp_fn=$1 wait_fn=$2 from=$3 text=$4 since
  shift 4
  echo "+ qmp (client) device_add usb-kbd id=kbd0 $*"
  "$qmp_fn" device_add usb-kbd id=kbd0 "$@"
  "$wait_fn" "$from" 'usb: device [0-9]+ .*"QEMU USB Keyboard" on hub [0-9]+ port 1$' 30 "the new keyboard was not enumerated"
  "$wait_fn" "$from" 'usb: boot keyboard at [0-9]+ ' 30 "the new keyboard was not bound"
  since=$(lab lines)
  echo "+ qmp (client) type '$text' (60 ms between keys)"
  "$qmp_fn" type "$text" --delay-ms 60
  lab wait-typed "$text" --since-line "$since" --timeout 30 ||
    fail "the lab guest did not see '$text' typed on the re-plugged keyboard"
  echo "guest serial shows: TYPED: $text"
}
