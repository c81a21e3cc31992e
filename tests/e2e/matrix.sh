# shellcheck shell=bash
# The issue-3 codec matrix, sourced by tests/e2e/cases.sh (harness: tests/e2e/lib.sh).
#
# Owns: the matrix case bodies. Each case keeps barespice-host connected while
# the guest changes scene at least MATRIX_SCENES times (or plays its video),
# compares the client's final snapshot with QEMU's screendump (pixel-exact for
# lossless settings, PSNR for JPEG/MJPEG), and checks from the client's --log
# summary that the image type the setting is about really arrived.
# Must not: start or stop the lab server (run_case does), or decide which
# server configuration a case runs on (all_cases in cases.sh does).

# Scene changes each matrix case waits for while the client is connected.
MATRIX_SCENES=${MATRIX_SCENES:-20}

# images_of LOG: the client's per-type image counts ("QUIC=3 GLZ_RGB=5", or
# "none") from its --log summary line "display 0: images ...; stream frames ...".
images_of() {
  sed -n 's/^barespice-host: display 0: images \([^;]*\);.*/\1/p' "$1" | tail -n1
}

# stream_frames_of LOG: "<drawn> <dropped>" MJPEG stream frames from the summary.
stream_frames_of() {
  sed -n 's/^barespice-host: display 0: images .*; stream frames \([0-9]*\) dropped \([0-9]*\)$/\1 \2/p' "$1" | tail -n1
}

# expect_images LOG REQUIRED ALLOWED: every type in REQUIRED (space-separated
# SPICE_IMAGE_TYPE_* names without the prefix) arrived at least once, and no
# type outside REQUIRED + ALLOWED arrived (ALLOWED "*": any). The references
# FROM_CACHE, FROM_CACHE_LOSSLESS and SURFACE are always allowed.
expect_images() {
  local log=$1 required=$2 allowed=$3 got t kv
  got=$(images_of "$log")
  [ -n "$got" ] || fail "the client's log has no image summary (see $log)"
  for t in $required; do
    case " $got " in *" $t="[1-9]*) ;; *) fail "no $t image arrived (images: $got)" ;; esac
  done
  [ "$allowed" != "*" ] || return 0
  for kv in $got; do
    t=${kv%%=*}
    case " $required $allowed FROM_CACHE FROM_CACHE_LOSSLESS SURFACE " in
      *" $t "*) ;;
      *) fail "unexpected $t images arrived (images: $got)" ;;
    esac
  done
}

# wait_connected LOG PID: wait until the client (running as PID, logging to
# LOG with --log) has the guest's surface, so later drawing happens while it
# is connected.
wait_connected() {
  local log=$1 pid=$2 i
  for i in $(seq 1 300); do
    grep -q '^barespice-host: display 0 surface ' "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 5 "$log"; fail "client exited before the display channel was up"; }
    sleep 0.1
  done
  fail "client had no display surface after 30 s"
}

# matrix_case MODE REQUIRED ALLOWED [CLIENT ARGS...]: one codec setting. The
# client connects, the guest draws MATRIX_SCENES scenes back to back (50 ms
# apart), and once the display has been quiet the snapshot must equal the
# screendump (MODE "exact") or reach MODE dB PSNR; the images must pass
# expect_images.
matrix_case() {
  local mode=$1 required=$2 allowed=$3 start end pid rc=0 log="$CASE_DIR/client.log" dump="$CASE_DIR/screendump.png" q
  shift 3
  start=$(lab seq)
  client --snapshot "$CASE_DIR/snap.png" --idle-ms 2500 --timeout-s 110 --log "$@" 2> "$log" &
  pid=$!
  wait_connected "$log" "$pid"
  lab interval 50
  if ! lab wait-seq $((start + MATRIX_SCENES)) --timeout 120 > /dev/null; then
    lab interval 0
    fail "guest did not draw $MATRIX_SCENES scenes"
  fi
  lab interval 0
  kill -0 "$pid" 2>/dev/null || fail "client exited before the scene changes were over"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { tail -n 5 "$log"; fail "client exited with $rc"; }
  end=$(lab seq)
  [ -s "$CASE_DIR/snap.png" ] || fail "client wrote no snapshot"
  lab stable-dump "$dump"
  if [ "$mode" = exact ]; then
    q=$(imgcmp "$CASE_DIR/snap.png" "$dump") || { echo "$q"; fail "client snapshot differs from the server's screendump"; }
  else
    q=$(imgcmp "$CASE_DIR/snap.png" "$dump" --psnr --min-db "$mode") || fail "$q, below $mode dB"
  fi
  expect_images "$log" "$required" "$allowed"
  echo "$((end - start)) scene changes while connected; $q; images $(images_of "$log")"
}

# video_boxes: "BOX ROWS" as X,Y,W,H for the guest's video box (fbvideo: 320x240
# centred, clipped to the screen) and for the full-width rows it spans (the
# fbdev damage, hence the stream, covers whole rows).
video_boxes() {
  local w=${LAB_RESOLUTION%x*} h=${LAB_RESOLUTION#*x} bw=320 bh=240
  [ "$bw" -le "$w" ] || bw=$w
  [ "$bh" -le "$h" ] || bh=$h
  echo "$(((w - bw) / 2)),$(((h - bh) / 2)),$bw,$bh 0,$(((h - bh) / 2)),$w,$bh"
}

# matrix_mjpeg: MJPEG video streams (lab server with --vga qxl and
# --streaming-video all). (1) The client watches the guest's video from the
# start; after VIDEO DONE and a quiet display its snapshot must reach 32 dB
# PSNR against the screendump (the server repaints a stream's area losslessly
# a second after its last frame, so this is usually exact), and MJPEG frames
# must have arrived and decoded. (2) A second client joins while the video
# rewrites its last picture and snapshots 0.7 s after the stream's last
# frame, before that repaint: the picture is still MJPEG content and must
# reach 32 dB as well (whole screen and video box).
matrix_mjpeg() {
  [ "${LAB_VGA:-}" = qxl ] || fail "needs a lab server with --vga qxl"
  local log="$CASE_DIR/client.log" log2="$CASE_DIR/client-still.log" dump="$CASE_DIR/screendump.png"
  local pid rc=0 frames sf drawn dropped box rows full full_box full_rows vpid mid mid_box mid_rows mf since
  read -r box rows < <(video_boxes)
  # (1) connected before the video starts.
  client --snapshot "$CASE_DIR/snap.png" --idle-ms 3000 --timeout-s 110 --log 2> "$log" &
  pid=$!
  wait_connected "$log" "$pid"
  frames=$(lab video 6) || fail "the guest's video did not finish"
  [ "$frames" -ge "$MATRIX_SCENES" ] || fail "the video drew only $frames frames"
  kill -0 "$pid" 2>/dev/null || fail "client exited during the video"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { tail -n 5 "$log"; fail "client exited with $rc"; }
  sf=$(stream_frames_of "$log")
  drawn=${sf% *}
  dropped=${sf#* }
  [ -n "$sf" ] && [ "$drawn" -gt 0 ] || fail "no MJPEG stream frame arrived (summary: $(grep 'images' "$log"))"
  [ "$dropped" = 0 ] || fail "$dropped stream frames could not be decoded"
  lab stable-dump "$dump"
  full=$(imgcmp "$CASE_DIR/snap.png" "$dump" --psnr --min-db 32) || fail "final snapshot: $full, below 32 dB"
  full_box=$(imgcmp "$CASE_DIR/snap.png" "$dump" --psnr --crop "$box")
  full_rows=$(imgcmp "$CASE_DIR/snap.png" "$dump" --psnr --crop "$rows")
  echo "final snapshot: $full; video box $box: $full_box; streamed rows $rows: $full_rows"
  echo "  $frames video frames drawn while connected, $drawn MJPEG stream frames decoded; images $(images_of "$log")"

  # (2) joins while the video rewrites its last picture (so every stream frame
  # it can get shows the final picture) and snapshots 0.7 s after the last
  # one, before the server's lossless repaint.
  since=$(lab lines)
  lab video 2 --hold 5 > "$CASE_DIR/video2.out" &
  vpid=$!
  lab wait-line "VIDEO STILL" --since-line "$since" --timeout 60 > /dev/null || fail "the guest's second video did not start"
  rc=0
  client --snapshot "$CASE_DIR/still.png" --idle-ms 700 --timeout-s 120 --log 2> "$log2" &
  pid=$!
  wait "$vpid" || fail "the guest's second video did not finish"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { tail -n 5 "$log2"; fail "second client exited with $rc"; }
  mf=$(stream_frames_of "$log2")
  [ "${mf% *}" -gt 0 ] 2>/dev/null || fail "the second client got no stream frame (summary: $(grep 'images' "$log2"))"
  [ "${mf#* }" = 0 ] || fail "${mf#* } stream frames could not be decoded"
  lab stable-dump "$CASE_DIR/screendump-still.png"
  mid=$(imgcmp "$CASE_DIR/still.png" "$CASE_DIR/screendump-still.png" --psnr --min-db 32) ||
    fail "snapshot of the stream's last frame: $mid, below 32 dB"
  mid_box=$(imgcmp "$CASE_DIR/still.png" "$CASE_DIR/screendump-still.png" --psnr --crop "$box" --min-db 32) ||
    fail "snapshot of the stream's last frame, video box: $mid_box, below 32 dB"
  mid_rows=$(imgcmp "$CASE_DIR/still.png" "$CASE_DIR/screendump-still.png" --psnr --crop "$rows")
  echo "snapshot of the stream's last frame (before the repaint): $mid; video box: $mid_box; streamed rows: $mid_rows; ${mf% *} stream frames"
  echo "final: $full (box $full_box); stream's last frame: $mid (box $mid_box); $drawn+${mf% *} MJPEG frames decoded"
}

# Every matrix case name (scripts/test builds the client when one is selected).
MATRIX_CASES=(matrix-off matrix-lz matrix-quic matrix-glz matrix-auto_lz matrix-auto_glz matrix-lz4
  matrix-zlib-glz matrix-jpeg matrix-mjpeg)
