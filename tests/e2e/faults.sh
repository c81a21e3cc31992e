# shellcheck shell=bash
# Fault injection for the firmware on QEMU virt (issue 12), sourced by
# scripts/test after tests/e2e/firmware.sh (fw_client_ensure, fw_watch,
# fw_expect_desktop, fw_reconnect) and tests/e2e/lib.sh.
#
# Owns the fault-* cases; each injects its fault FAULT_RUNS times against the
# shared "off" lab server and the firmware client that watches it:
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
# Must not: leave the lab server stopped (SIGCONT on every exit path).

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

# fault_loop KIND: inject KIND FAULT_RUNS times; print per-run and summary lines.
fault_loop() {
  local kind=$1 i n t0 ms times=() recovered=0 pid
  fw_client_ensure off
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
    esac
    ms=$(fault_recover "$t0" "$CASE_DIR/run-$i")
    tail -n +"$((n + 1))" "$FW_LOG" | grep -a -E 'closed:|reconnecting in|status:|timeline: first frame' | head -n 6 | sed "s/^/  run $i client log: /" || true
    grep -aq 'panicked' "$FW_LOG" && fail "the client panicked (see $FW_LOG)"
    if [ -n "$ms" ]; then
      recovered=$((recovered + 1)); times+=("$ms")
      echo "run $i: $kind ${FAULT_HOLD_S} s -> desktop pixel-exact $ms ms after the fault cleared"
    else
      echo "run $i: $kind ${FAULT_HOLD_S} s -> NOT recovered within 60 s ($(tail -n1 "$CASE_DIR/run-$i/watch.txt"))"
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

# fault_cases: on the shared "off" server and its firmware client.
fault_cases() {
  any_selected fault-pause fault-link fault-kill || return 0
  [ -n "${FW_ELF:-}" ] && [ -f "$FW_ELF" ] || fw_build
  local t0=$SECONDS
  run_case fault-pause "--image-compression off" fault_pause
  run_case fault-link "--image-compression off" fault_link
  run_case fault-kill "--image-compression off" fault_kill
  fw_client_stop off
  echo "fault section: $((SECONDS - t0)) s"
}
