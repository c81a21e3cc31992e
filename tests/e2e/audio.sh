# shellcheck shell=bash
# Audio end-to-end case (issue 15, playback), sourced by scripts/test after
# tests/e2e/firmware.sh (fw_build, emu_start, FW_ELF).
#
# Owns:
#   audio-playback  a lab server with a sound card on its SPICE audiodev
#       (lab-server --audio: AC97 + the guest's lab-tones) and the firmware on
#       QEMU virt with a virtio-sound-device whose audiodev is QEMU's wav
#       backend (scripts/emulate --audio-wav). The guest plays AU_TONES (sine
#       tones at -6 dBFS, 48 kHz, generated in the guest); the client's QEMU
#       writes what the firmware played to a WAV file, and
#       scripts/lib/audio_check.py must find the same tones in it: frequency
#       within 1 %, order, duration within 60 ms, RMS level within 3 dB of a
#       -6 dBFS sine, no silent gap over 20 ms inside a tone. The expected values
#       are what the guest was told to play, never the client's own output.
#       The client runs with barespice.audio-ms=$AU_TARGET_MS (see below).
#       The case also prints the firmware's "audio: stream stop" line
#       (underruns, PLAYBACK_DATA -> sink latency).
# Must not: share its lab server with cases started without --audio.

AU_TONES=0:200,440:400,0:100,880:400,0:100,660:400,0:100,1320:400,0:200
AU_DIR="$E2E_OUT/audio-client"
# Jitter target for the case: this 2-core machine runs several QEMUs under
# TCG, and the lab guest's audio sometimes arrives in bursts after stalls of
# ~300 ms (the default 80 ms is what scripts/audio-measure measures).
AU_TARGET_MS=400

au_playback() {
  [ -z "$FW_BUILD_ERROR" ] || fail "$FW_BUILD_ERROR"
  [ -f "$FW_ELF" ] || fail "no firmware at $FW_ELF"
  FW_QMP=$AU_DIR/qmp.sock
  FW_LOG=$AU_DIR/serial.log
  local wav="$E2E_OUT/audio-playback.wav" t0 line
  rm -f "$wav"
  emu_start "$AU_DIR" virt "audio client" 150 -- --audio-wav "$wav" \
    --append "barespice.display=1:1 barespice.audio-ms=$AU_TARGET_MS" --timeout 600
  t0=$SECONDS
  until grep -aq 'session: playback channel 0 linked' "$FW_LOG"; do
    [ $((SECONDS - t0)) -lt 30 ] || { grep -a 'audio\|playback' "$FW_LOG"; fail "the playback channel did not link"; }
    sleep 0.5
  done
  grep -am1 'audio: sink' "$FW_LOG"
  echo "+ lab tones $AU_TONES"
  line=$(lab tones "$AU_TONES" --timeout 60) || fail "the guest did not finish its tones"
  echo "guest: $line"
  # The server sends STOP once the guest's card goes idle; the jitter buffer
  # then plays out, and the sink stays fed with silence.
  t0=$SECONDS
  until grep -aq 'audio: stream stop' "$FW_LOG"; do
    [ $((SECONDS - t0)) -lt 30 ] || { grep -a 'audio' "$FW_LOG"; fail "no stream stop on the client"; }
    sleep 0.5
  done
  sleep 2 # the jitter target's worth of audio is still playing out
  grep -a 'audio: ' "$FW_LOG" | grep -v 'audio: volume' || true
  # QEMU writes the WAV header's sizes when it exits.
  emu_stop "$AU_DIR"
  [ -s "$wav" ] || fail "the client's QEMU wrote no WAV file"
  "$PY" "$REPO/scripts/lib/audio_check.py" "$wav" --expect "$AU_TONES" | tee "$CASE_DIR/check.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || fail "the recorded audio does not match the tones the guest played"
  echo "tones found in the client's output: $(grep -c '^tone .*: ok' "$CASE_DIR/check.txt") of 4, $(grep -am1 -o 'underruns [0-9]*' "$FW_LOG")"
}

audio_cases() {
  any_selected audio-playback || return 0
  local prev
  prev=$(trap -p EXIT)
  prev=${prev#trap -- }
  eval "prev=${prev% EXIT}"
  # shellcheck disable=SC2064
  trap "emu_stop '$AU_DIR'; ${prev:-:}" EXIT
  fw_build # firmware.sh's virt build: incremental when its cases just built it
  run_case audio-playback "--audio" au_playback
  emu_stop "$AU_DIR"
}
