# shellcheck shell=bash
# The soak (issue 12), sourced by scripts/test (case soak-short, 3 minutes)
# and by scripts/soak (--minutes N), after tests/e2e/lib.sh and firmware.sh.
#
# Owns soak_run: the firmware on QEMU virt stays connected to a qxl lab server
# (--vga qxl --streaming-video all) for SOAK_MINUTES while the guest alternates
# MJPEG video (lab video) and lossless scene changes (lab interval), and a
# line is typed into the client during each (QMP keys on the client's virtio
# keyboard) and must come back on the guest's serial. Prints the
# firmware's own heap lines over time (in use, high-water, live allocations;
# firmware/src/heap_log.rs, every 10 s), the typed lines that did not arrive
# (a character missing) and those that arrived split by a pause of over 2 s
# (the guest then ends the line: held up, not lost; counted, not a failure),
# the reconnects and where keys went (QEMU trace events on both sides: into the
# client, dropped by its virtio-input queue, into the guest's PS/2 keyboard,
# read by the guest); fails on any missing line, reconnect or panic, or when
# the heap in use at the end exceeds the first minute's by more than the
# session's caches can hold (SOAK_CACHE_KIB).
# Must not: share its client with the fw-* cases (it stops its own at the end).

SOAK_MINUTES=${SOAK_MINUTES:-3}
# What the session's caches may legitimately fill after the first minute:
# spice-core's SessionConfig defaults, a 5 Mi-pixel pixmap cache and a 4 Mi-pixel
# GLZ window with its spare eighth (4.5 Mi pixels) and, since session 8, the
# ring of the same size that GLZ images drawn straight onto a surface are
# decoded into (allocated at the first such image), 4 bytes a pixel (56 MiB).
# Growth beyond that is a leak; growth within it is the caches filling (a long
# run shows it level off).
SOAK_CACHE_KIB=$(((5 * 1024 + 4608 + 4608) * 4))

# soak_kib FIELD LINE: the number before " KiB" after FIELD in a heap line.
soak_kib() { sed -n "s/.*$1 \([0-9]*\) KiB.*/\1/p" <<< "$2"; }

soak_run() {
  local dir="$E2E_OUT/fw-client-soak" end k=0 missing=0 split=0 since text phase=video
  emu_start "$dir" virt "soak client" 120 -- --append "spice.reconnect-max=2 barespice.display=1:1" --timeout $((SOAK_MINUTES * 60 + 600))
  FW_QMP=$dir/qmp.sock
  FW_LOG=$dir/serial.log
  # Key accounting through QEMU trace events: keys the client's QEMU got
  # over QMP, reports its virtio-input queue had no room for (dropped), key
  # events the lab's PS/2 keyboard got from the SPICE server and bytes the
  # guest read from it (a full PS/2 queue drops bytes silently).
  fw_qmp hmp "trace-event input_event_key_qcode on" > /dev/null
  fw_qmp hmp "trace-event virtio_input_queue_full on" > /dev/null
  qmp hmp "trace-event ps2_put_keycode on" > /dev/null
  qmp hmp "trace-event ps2_read_data on" > /dev/null
  end=$((SECONDS + SOAK_MINUTES * 60))
  while [ $SECONDS -lt "$end" ]; do
    # Content: 10 s of MJPEG video, then 10 s of lossless scenes (every
    # 300 ms), in turn; a line is typed during each, 2 s in.
    local content
    if [ "$phase" = video ]; then
      lab interval 0 > /dev/null
      (lab video 10 --timeout 60 > /dev/null || echo "warning: the guest's video did not finish") &
      content=$!
      phase=scenes
    else
      lab interval 300 > /dev/null
      sleep 10 &
      content=$!
      phase=video
    fi
    sleep 2
    k=$((k + 1))
    text="soak line $k"
    since=$(lab lines)
    fw_qmp type "$text" --delay-ms 60
    local during joined
    during=$([ "$phase" = scenes ] && echo video || echo scenes)
    if lab wait-typed "$text" --since-line "$since" --timeout 20 > /dev/null 2>&1; then
      echo "$(date -u +%T) typed '$text' during $during: arrived"
    else
      # The guest ends a line at Enter or after 2 s without a key: every
      # character in order, over several TYPED lines, is a line held up
      # somewhere for over 2 s, not a lost key.
      joined=$(tail -n +$((since + 1)) "$LAB_SERIAL_LOG" | tr -d '\r' | sed -n 's/^TYPED: //p' | tr -d '\n')
      if [ "$joined" = "$text" ]; then
        split=$((split + 1))
        echo "$(date -u +%T) typed '$text' during $during: arrived, split by a pause over 2 s ($(tail -n +$((since + 1)) "$LAB_SERIAL_LOG" | grep -a '^TYPED: ' | tr -d '\r' | tr '\n' '|'))"
      else
        missing=$((missing + 1))
        echo "$(date -u +%T) typed '$text' during $during: DID NOT ARRIVE (guest: $(tail -n +$((since + 1)) "$LAB_SERIAL_LOG" | grep -a '^TYPED: ' | tr -d '\r' | tr '\n' '|'))"
      fi
    fi
    wait "$content"
  done
  lab interval 0 > /dev/null
  local reconnects first last first_use last_use
  reconnects=$(grep -ac 'reconnecting in' "$FW_LOG" || true)
  echo "heap over time (firmware log, every 10 s):"
  grep -a 'heap: periodic' "$FW_LOG" | sed 's/^/  /'
  first=$(grep -a 'heap: periodic' "$FW_LOG" | sed -n 6p)
  last=$(grep -a 'heap: periodic' "$FW_LOG" | tail -n1)
  first_use=$(soak_kib "in use" "$first")
  last_use=$(soak_kib "in use" "$last")
  emu_stop "$dir"
  local q_in q_full ps2_put ps2_brk ps2_read kbd
  q_in=$(grep -ac '^input_event_key_qcode' "$dir/emulate.out" || true)
  q_full=$(grep -ac '^virtio_input_queue_full' "$dir/emulate.out" || true)
  ps2_put=$(grep -ac '^ps2_put_keycode' "$LAB_RUN_DIR/qemu.out" || true)
  ps2_brk=$(grep -ac '^ps2_put_keycode.* keycode 0xf0$' "$LAB_RUN_DIR/qemu.out" || true)
  # Reads of the keyboard's queue (the mouse's has another address).
  kbd=$(grep -am1 '^ps2_put_keycode' "$LAB_RUN_DIR/qemu.out" | cut -d' ' -f2)
  ps2_read=$(grep -ac "^ps2_read_data ${kbd:-none}\$" "$LAB_RUN_DIR/qemu.out" || true)
  echo "keys: $q_in key events into the client (QMP), $q_full reports dropped by its full virtio-input queue," \
    "$((ps2_put - ps2_brk)) key events to the guest's PS/2 keyboard, $ps2_read bytes the guest read from it"
  grep -aq 'panicked' "$FW_LOG" && fail "the client panicked (see $FW_LOG)"
  echo "soak ${SOAK_MINUTES} min: typed lines $k, not arrived $missing, split by a pause over 2 s $split, reconnects $reconnects," \
    "heap high-water $(soak_kib high-water "$last") KiB, in use ${first_use:-?} KiB after 1 min -> ${last_use:-?} KiB at the end," \
    "live allocations $(sed -n 's/.*live allocations \([0-9]*\).*/\1/p' <<< "$last")"
  [ "$missing" = 0 ] || fail "$missing typed lines did not arrive"
  [ "$reconnects" = 0 ] || fail "the client reconnected $reconnects times"
  [ -n "$first_use" ] && [ -n "$last_use" ] || fail "not enough heap lines in $FW_LOG"
  [ "$last_use" -le $((first_use + SOAK_CACHE_KIB)) ] ||
    fail "heap in use grew from $first_use KiB to $last_use KiB, more than the session's caches can hold ($SOAK_CACHE_KIB KiB)"
}

soak_short() { SOAK_MINUTES=3 soak_run; }

# soak_cases: soak-short on its own qxl server (BARESPICE_TEST_SOAK=0 skips it).
soak_cases() {
  [ "${BARESPICE_TEST_SOAK:-1}" = 1 ] || return 0
  any_selected soak-short || return 0
  [ -s "$E2E_OUT/build-firmware.log" ] || fw_build # built in this run, never a stale image
  run_case soak-short "--vga qxl --streaming-video all" soak_short
}
