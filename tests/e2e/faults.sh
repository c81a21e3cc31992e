# shellcheck shell=bash
# Fault injection for the firmware on QEMU virt (issue 12), sourced by
# scripts/test after tests/e2e/firmware.sh (fw_client_ensure, fw_watch,
# fw_expect_desktop, fw_reconnect) and tests/e2e/lib.sh.
#
# Owns the fault-* cases; each injects its fault FAULT_RUNS times against the
# shared "off" lab server and a firmware client that watches it:
#   fault-pause   the lab server's QEMU is stopped (SIGSTOP) for FAULT_HOLD_S
#                 seconds and resumed (SIGCONT)
#   fault-link    the client's network link is cut (QMP set_link net0 off on
#                 the client QEMU) for FAULT_HOLD_S seconds and restored
#   fault-kill    the lab server is killed and restarted (fw_reconnect, its 5 s
#                 deadline not applied: the time is measured instead)
# After each fault: the client did not panic (no "panicked" in its serial log),
# and its screen is the server's live screen again, pixel for pixel (fw_watch);
# the time from the fault clearing to that is recorded. Every case prints
# "faults injected N, recovered M" and the median and worst time to recover.
# Whatever the client logged about the fault (closed:/reconnecting lines) is
# shown; a pause shorter than the client's timeouts may go unnoticed by it.
# The proxy faults and the hostile server (fault-truncate, fault-corrupt,
# fault-stall, fault-hostile) are described below, above fp_start.
# Must not: leave the lab server stopped (SIGCONT on every exit path), or the
# proxy running after the section.

FAULT_RUNS=${FAULT_RUNS:-3}
FAULT_HOLD_S=${FAULT_HOLD_S:-8}

# fault_stats MS...: "median M ms, worst W ms" of the numbers given.
fault_stats() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "no recoveries"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2); print "median " m " ms, worst " v[NR] " ms" }'
}

# fault_recover T0_MS DIR: until the client shows the server's screen again;
# echoes the milliseconds from T0_MS, or nothing.
fault_recover() {
  local qmp_sock out
  qmp_sock=$(sed -n 's/^LAB_QMP=//p' "$LAB_RUN_DIR/lab.env")
  mkdir -p "$2"
  out=$(fw_watch "$qmp_sock" "$1" 60 "$2") || true
  echo "$out" > "$2/watch.txt"
  echo "$out" | sed -n 's/^+\([0-9]*\) ms: client ==.*/\1/p'
}

# fault_loop KIND: inject KIND FAULT_RUNS times; print per-run and summary
# lines. pause and link on the 'off' client; truncate, corrupt and stall on
# the 'proxy' client through faultproxy.py (see below).
fault_loop() {
  local kind=$1 i n t0 ms times=() recovered=0 pid answer reason what=$1
  case $kind in
    pause|link) fw_client_ensure off; what="$kind ${FAULT_HOLD_S} s" ;;
    stall) fp_client_ensure; what="$kind ${FAULT_HOLD_S} s" ;;
    *) fp_client_ensure ;;
  esac
  fw_expect_desktop 20
  for i in $(seq 1 "$FAULT_RUNS"); do
    n=$(wc -l < "$FW_LOG")
    case $kind in
      pause)
        pid=$(cat "$LAB_PIDFILE")
        kill -STOP "$pid"
        trap 'kill -CONT '"$pid"' 2>/dev/null' EXIT
        sleep "$FAULT_HOLD_S"
        kill -CONT "$pid"
        trap - EXIT
        t0=$(now_ms) ;;
      link)
        fw_qmp hmp 'set_link net0 off' > /dev/null
        sleep "$FAULT_HOLD_S"
        fw_qmp hmp 'set_link net0 on' > /dev/null
        t0=$(now_ms) ;;
      truncate|corrupt)
        answer=$(fp_during_scene "$CASE_DIR/answer-$i.txt" "armed $kind" "$kind")
        echo "  run $i proxy: $answer"
        t0=$(echo "$answer" | sed -n 's/^fired [a-z]* at \([0-9]*\) ms:.*/\1/p')
        [ -n "$t0" ] || fail "the $kind fault did not fire: $answer"
        wait_line "$FW_LOG" "$n" 'reconnecting in' 30 || fail "the client did not end the session after the $kind fault"
        reason=$(fp_reason "$n")
        [ -n "$reason" ] || fail "no reason shown for the $kind fault"
        echo "  run $i client shows: $reason" ;;
      stall)
        answer=$(fp_during_scene "$CASE_DIR/answer-$i.txt" "stall $FAULT_HOLD_S" stall "$FAULT_HOLD_S")
        echo "  run $i proxy: $answer"
        t0=$(echo "$answer" | sed -n 's/^released at \([0-9]*\) ms.*/\1/p')
        [ -n "$t0" ] || fail "the stall did not end: $answer"
        reason=$(fp_reason "$n")
        echo "  run $i client shows: ${reason:-(nothing: the stall was shorter than its timeouts)}" ;;
    esac
    ms=$(fault_recover "$t0" "$CASE_DIR/run-$i")
    tail -n +"$((n + 1))" "$FW_LOG" | grep -a -E 'closed:|reconnecting in|status:|timeline: first frame' | head -n 6 | sed "s/^/  run $i client log: /" || true
    grep -aq 'panicked' "$FW_LOG" && fail "the client panicked (see $FW_LOG)"
    if [ -n "$ms" ]; then
      recovered=$((recovered + 1)); times+=("$ms")
      echo "run $i: $what -> desktop pixel-exact $ms ms after the fault cleared"
    else
      echo "run $i: $what -> NOT recovered within 60 s ($(tail -n1 "$CASE_DIR/run-$i/watch.txt"))"
    fi
  done
  echo "fault $kind: faults injected $FAULT_RUNS, recovered $recovered, time to recover $(fault_stats "${times[@]}")"
  [ "$recovered" = "$FAULT_RUNS" ] || fail "$((FAULT_RUNS - recovered)) of $FAULT_RUNS $kind faults not recovered"
}

fault_pause() { fault_loop pause; }
fault_link() { fault_loop link; }

# fault_kill: fw_reconnect (kill, notice on screen and in the log, restart)
# FAULT_RUNS times. Its 5 s deadline is fw-reconnect's business: here a run has
# recovered when the client showed the restarted server's screen and then its
# first scene pixel-exact at all; the time counted is from the server listening.
fault_kill() {
  local i times=() base=$CASE_DIR ms
  for i in $(seq 1 "$FAULT_RUNS"); do
    CASE_DIR=$base/run-$i
    mkdir -p "$CASE_DIR"
    ( fw_reconnect off ) > "$CASE_DIR/reconnect.txt" 2>&1 || true
    grep -a -E 'client log: .*(closed:|linked|first frame)|pixel-exact' "$CASE_DIR/reconnect.txt" | sed "s/^ */  run $i /"
    ms=$(sed -n 's/^server listening -> client pixel-exact: \([0-9]*\) ms; guest.s first scene -> client pixel-exact: [0-9]* ms.*/\1/p' "$CASE_DIR/reconnect.txt")
    if [ -n "$ms" ]; then
      times+=("$ms")
      echo "run $i: kill/restart -> desktop pixel-exact $ms ms after the server listened"
    else
      echo "run $i: kill/restart -> NOT recovered: $(tail -n1 "$CASE_DIR/reconnect.txt")"
    fi
  done
  CASE_DIR=$base
  fw_client_ensure off
  grep -aq 'panicked' "$FW_LOG" && fail "the client panicked (see $FW_LOG)"
  echo "fault kill: faults injected $FAULT_RUNS, recovered ${#times[@]}, time to recover (from listening) $(fault_stats "${times[@]}")"
  [ "${#times[@]}" = "$FAULT_RUNS" ] || fail "$((FAULT_RUNS - ${#times[@]})) of $FAULT_RUNS kill/restart faults not recovered"
}

# ---- the TCP proxy's faults and the hostile server (tests/e2e/faultproxy.py) ----
# A second firmware client ('proxy') connects through faultproxy.py, which relays
# to the shared "off" lab server and injects on command:
#   fault-truncate  the display stream ends in the middle of a message (its
#                   connection closed after half the body)
#   fault-corrupt   a display message's size field becomes 0xfffffff0
#   fault-stall     nothing flows either way for FAULT_HOLD_S seconds while the
#                   guest draws a new scene (connections stay open)
#   fault-hostile   one session each with the scripted hostile server instead of
#                   the lab server (oversized LZ header, surface flood, endless
#                   message length, garbage, a valid message dripped one byte
#                   per 500 ms, a pixmap-cache flood one 1024x1024 image past
#                   the size the client announced): the session ends with the attack's
#                   reason, the heap after its teardown is back to the baseline
#                   (the teardown of a relayed session), and the next session,
#                   relayed to the lab server again, is pixel-exact
# Truncate and corrupt must end the session with a reason ('step ...: failed:'
# in the log, the status screen's line); a stall may go unnoticed. After every
# fault: no panic, the desktop pixel-exact again, the time from the fault (its
# firing, or the stall's end) to that recorded.

FP_PY="$REPO/tests/e2e/faultproxy.py"
FP_HEAP_SLACK_KIB=${FP_HEAP_SLACK_KIB:-64}
FP_ATTACKS=${FP_ATTACKS:-oversized-lz surface-flood cache-flood endless-length garbage drip}

# fp_start: faultproxy.py in front of the current lab server, kept running
# across the fault-* cases (its pid and ports in FP_DIR; called in a case).
fp_start() {
  FP_DIR="$E2E_OUT/faultproxy"
  FP_CTL="$FP_DIR/control.sock"
  mkdir -p "$FP_DIR"
  if kill -0 "$(cat "$FP_DIR/pid" 2>/dev/null)" 2>/dev/null && [ "$(cat "$FP_DIR/upstream")" = "$LAB_PORT" ]; then
    FP_PORT=$(cat "$FP_DIR/port")
    return 0
  fi
  fp_stop
  FP_PORT=$((LAB_PORT + 50))
  while ss -Hltn "sport = :$FP_PORT" | grep -q .; do FP_PORT=$((FP_PORT + 1)); done
  echo "$FP_PORT" > "$FP_DIR/port"
  echo "$LAB_PORT" > "$FP_DIR/upstream"
  rm -f "$FP_CTL"
  echo "+ faultproxy.py --port $FP_PORT --upstream $LAB_PORT --control $FP_CTL"
  setsid "$PY" "$FP_PY" --port "$FP_PORT" --upstream "$LAB_PORT" --control "$FP_CTL" \
    >> "$FP_DIR/proxy.log" 2>&1 < /dev/null &
  echo $! > "$FP_DIR/pid"
  for _ in $(seq 1 100); do [ -S "$FP_CTL" ] && break; sleep 0.1; done
  [ -S "$FP_CTL" ] || { cat "$FP_DIR/proxy.log"; fail "faultproxy.py did not start"; }
}

# fp_stop: end the proxy (parent or case).
fp_stop() {
  local pid
  pid=$(cat "$E2E_OUT/faultproxy/pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  rm -f "$E2E_OUT/faultproxy/pid"
}

# fp_ctl COMMAND...: one command to the proxy; prints its answer.
fp_ctl() {
  "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((" ".join(sys.argv[2:]) + "\n").encode())
print(s.makefile().readline().strip())' "$FP_CTL" "$@"
}

# fp_client_ensure: the 'proxy' firmware client, connected through the proxy.
fp_client_ensure() {
  fp_start
  local dir
  dir=$(fw_dir proxy)
  FW_QMP=$dir/qmp.sock
  FW_LOG=$dir/serial.log
  [ -z "$FW_BUILD_ERROR" ] || fail "$FW_BUILD_ERROR"
  emu_start "$dir" virt "firmware client 'proxy'" 120 -- \
    --append "spice.port=$FP_PORT spice.reconnect-max=$FW_RECONNECT_MAX barespice.display=1:1" --timeout 1200
}

# wait_line FILE N REGEX TIMEOUT_S: until a line after line N of FILE matches.
wait_line() {
  local t0=$SECONDS
  until after_line "$1" "$2" "$3"; do
    [ $((SECONDS - t0)) -lt "$4" ] || return 1
    sleep 0.05
  done
}

# fp_during_scene FILE REGEX COMMAND...: the proxy command (its answer into
# FILE) with a guest scene change once the proxy's log says REGEX (armed, or
# stalled); prints the answer when the command is done.
fp_during_scene() {
  local file=$1 regex=$2 p ctl
  shift 2
  p=$(wc -l < "$FP_DIR/proxy.log")
  fp_ctl "$@" > "$file" &
  ctl=$!
  wait_line "$FP_DIR/proxy.log" "$p" "$regex" 10 || fail "the proxy did not log '$regex'"
  lab scene next > /dev/null
  wait "$ctl" || true
  cat "$file"
}

# fp_reason N: the client's first failed step after line N (the status screen's reason).
fp_reason() { tail -n +"$(($1 + 1))" "$FW_LOG" | grep -a -m1 -o 'step [A-Za-z]*: failed: .*' || true; }

fault_truncate() { fault_loop truncate; }
fault_corrupt() { fault_loop corrupt; }
fault_stall() { fault_loop stall; }

# fp_heap N: "in use" KiB of the first 'heap: after teardown' line after line N.
fp_heap() {
  tail -n +"$(($1 + 1))" "$FW_LOG" | grep -a -m1 'heap: after teardown' | sed -n 's/.*in use \([0-9]*\) KiB.*/\1/p'
}

# fault_hostile: each attack of faultproxy.py's hostile server for one session.
fault_hostile() {
  local n base a heap reason want ms times=() ok=0 total=0
  fp_client_ensure
  fw_expect_desktop 20
  # Baseline: the heap after a relayed session's teardown.
  n=$(wc -l < "$FW_LOG")
  fp_ctl cut > /dev/null
  wait_line "$FW_LOG" "$n" 'heap: after teardown' 30 || fail "no 'heap: after teardown' line after the cut"
  base=$(fp_heap "$n")
  echo "baseline: heap in use after a relayed session's teardown: $base KiB"
  ms=$(fault_recover "$(now_ms)" "$CASE_DIR/baseline") || true
  [ -n "$ms" ] || fail "the client did not show the desktop again after the baseline cut"
  for a in $FP_ATTACKS; do
    total=$((total + 1))
    case $a in
      oversized-lz) want='LZ image larger than its data can encode' ;;
      surface-flood) want='memory budget exceeded by a surface' ;;
      cache-flood) want='pixmap cache over its announced size' ;;
      endless-length) want='message size over limit' ;;
      garbage) want='protocol error on display channel 0' ;;
      drip) want='display channel 0: server stalled mid-message' ;;
    esac
    fp_ctl hostile "$a" > /dev/null
    n=$(wc -l < "$FW_LOG")
    fp_ctl cut > /dev/null
    # The relayed session's teardown, then the hostile session's.
    wait_line "$FW_LOG" "$n" 'heap: after teardown' 30 || fail "$a: the relayed session did not end"
    n=$(grep -an 'heap: after teardown' "$FW_LOG" | tail -n1 | cut -d: -f1)
    wait_line "$FW_LOG" "$n" 'heap: after teardown' 60 || { tail -n 20 "$FW_LOG"; fail "$a: the hostile session did not end"; }
    reason=$(fp_reason "$n")
    heap=$(fp_heap "$n")
    echo "  $a: client shows: ${reason:-nothing}; heap in use after teardown $heap KiB (baseline $base KiB)"
    grep -aq 'panicked' "$FW_LOG" && fail "$a: the client panicked (see $FW_LOG)"
    echo "$reason" | grep -qF "$want" || fail "$a: expected a reason with '$want'"
    [ "$heap" -le $((base + FP_HEAP_SLACK_KIB)) ] || fail "$a: heap $heap KiB after teardown, baseline $base KiB (+$FP_HEAP_SLACK_KIB allowed)"
    ms=$(fault_recover "$(now_ms)" "$CASE_DIR/$a") || true
    [ -n "$ms" ] || fail "$a: the next session to the lab server is not pixel-exact"
    ok=$((ok + 1)); times+=("$ms")
    echo "  $a: next session to the lab server pixel-exact $ms ms after the hostile session ended"
  done
  echo "hostile server: attacks $total, sessions ended with their reason and heap at baseline $ok, back to the desktop $(fault_stats "${times[@]}")"
}

# fault_cases: on the shared "off" server and its firmware client.
fault_cases() {
  any_selected fault-pause fault-link fault-kill fault-truncate fault-corrupt fault-stall fault-hostile || return 0
  [ -s "$E2E_OUT/build-firmware.log" ] || fw_build # built in this run, never a stale image
  local t0=$SECONDS
  run_case fault-pause "--image-compression off" fault_pause
  run_case fault-link "--image-compression off" fault_link
  run_case fault-kill "--image-compression off" fault_kill
  fw_client_stop off
  # Through the proxy (a second client would take the session over: 'off' is stopped).
  local t1=$SECONDS
  run_case fault-truncate "--image-compression off" fault_truncate
  run_case fault-corrupt "--image-compression off" fault_corrupt
  run_case fault-stall "--image-compression off" fault_stall
  run_case fault-hostile "--image-compression off" fault_hostile
  fw_client_stop proxy
  fp_stop
  echo "fault proxy/hostile cases: $((SECONDS - t1)) s"
  echo "fault section: $((SECONDS - t0)) s"
}
