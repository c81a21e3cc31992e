#!/usr/bin/python3
"""Find a tone sequence in a WAV file and check it against what was played.

Owns: the analysis behind the audio-playback case (tests/e2e/audio.sh). Pure
Python (wave + math), no numpy. Reads a 16-bit PCM WAV (QEMU's wav audiodev of
the emulated client), cuts it into 5 ms windows, marks windows louder than
-40 dBFS as sound, splits the sound into tones where silence or the frequency
(zero crossings per window) changes, and measures each tone: frequency from
interpolated zero crossings over its middle, start, duration, RMS level, and
the longest silent gap inside it.

CLI: audio_check.py FILE.wav --expect FREQ:MS,... [--level-dbfs D] [--level-tol-db T]
                     [--freq-tol-pct P] [--dur-tol-ms M] [--max-gap-ms G]
  --expect    what the guest was told to play, in order (0:MS entries are silence
              and are skipped when matching)
Prints one line per tone found and a verdict; exits 0 when the tones found are
the expected ones in order, each within the tolerances, and 1 otherwise.
"""
import argparse
import math
import sys
import wave

WIN_MS = 5
SOUND_DBFS = -40.0


def dbfs(rms):
    return 20 * math.log10(max(rms, 1e-9) / 32768.0)


def read_left(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit("audio_check: %s is not 16-bit PCM" % path)
        ch, rate, n = w.getnchannels(), w.getframerate(), w.getnframes()
        raw = w.readframes(n)
    import array
    a = array.array("h")
    a.frombytes(raw[: len(raw) - len(raw) % (2 * ch)])
    if sys.byteorder == "big":
        a.byteswap()
    return a[::ch], rate


def zero_crossings(x):
    """Interpolated positions (in samples) of rising zero crossings."""
    out = []
    for i in range(1, len(x)):
        a, b = x[i - 1], x[i]
        if a < 0 <= b:
            out.append(i - 1 + (-a) / (b - a))
    return out


def freq_of(x, rate):
    """Frequency from the median period between rising zero crossings
    (robust to a dropout inside the tone)."""
    z = zero_crossings(x)
    if len(z) < 3:
        return 0.0
    periods = sorted(b - a for a, b in zip(z, z[1:]))
    return rate / periods[len(periods) // 2]


def analyse(x, rate):
    win = rate * WIN_MS // 1000
    nwin = len(x) // win
    loud, wfreq = [], []
    for k in range(nwin):
        seg = x[k * win:(k + 1) * win]
        rms = math.sqrt(sum(v * v for v in seg) / win)
        loud.append(dbfs(rms) > SOUND_DBFS)
        wfreq.append(len(zero_crossings(seg)) * rate / win if loud[-1] else 0.0)
    # Group loud windows into tones: a new tone starts after >= 60 ms of
    # silence, or where the window frequency moves by more than 15 %.
    tones, cur, silent = [], None, 0
    for k in range(nwin):
        if loud[k]:
            f = wfreq[k]
            if cur is not None and silent * WIN_MS < 60 and abs(f - cur["f"]) <= 0.15 * cur["f"] + 200:
                cur["end"] = k + 1
                cur["gaps"].append(silent)
                cur["fs"].append(f)
                cur["f"] = sorted(cur["fs"])[len(cur["fs"]) // 2]
            else:
                cur = {"start": k, "end": k + 1, "gaps": [], "fs": [f], "f": f}
                tones.append(cur)
            silent = 0
        else:
            silent += 1
    out = []
    for t in tones:
        a, b = t["start"] * win, t["end"] * win
        body = x[a:b]
        mid = body[len(body) // 10: len(body) - len(body) // 10] or body
        rms = math.sqrt(sum(v * v for v in mid) / max(1, len(mid)))
        out.append({
            "freq": freq_of(mid, rate),
            "start_ms": a * 1000.0 / rate,
            "dur_ms": (b - a) * 1000.0 / rate,
            "dbfs": dbfs(rms),
            "max_gap_ms": max(t["gaps"] or [0]) * WIN_MS,
        })
    # Ignore blips shorter than 30 ms (edges of the resampler, clicks).
    return [t for t in out if t["dur_ms"] >= 30]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wav")
    ap.add_argument("--expect", required=True)
    ap.add_argument("--level-dbfs", type=float, default=-9.03, help="expected RMS (a -6 dBFS sine)")
    ap.add_argument("--level-tol-db", type=float, default=3.0)
    ap.add_argument("--freq-tol-pct", type=float, default=1.0)
    ap.add_argument("--dur-tol-ms", type=float, default=60.0)
    ap.add_argument("--max-gap-ms", type=float, default=20.0)
    a = ap.parse_args()
    want = []
    for item in a.expect.split(","):
        f, ms = item.split(":")
        if float(f) > 0:
            want.append((float(f), float(ms)))
    x, rate = read_left(a.wav)
    found = analyse(x, rate)
    print("%s: %.1f s at %d Hz, %d tones found, %d expected" % (a.wav, len(x) / rate, rate, len(found), len(want)))
    ok = len(found) == len(want)
    for i, t in enumerate(found):
        line = "tone %d: %.1f Hz, start %.0f ms, %.0f ms long, %.2f dBFS RMS, longest gap %.0f ms" % (
            i + 1, t["freq"], t["start_ms"], t["dur_ms"], t["dbfs"], t["max_gap_ms"])
        if i < len(want):
            f, ms = want[i]
            bad = []
            if abs(t["freq"] - f) > f * a.freq_tol_pct / 100:
                bad.append("frequency (want %.0f Hz +-%.1f%%)" % (f, a.freq_tol_pct))
            if abs(t["dur_ms"] - ms) > a.dur_tol_ms:
                bad.append("duration (want %.0f +-%.0f ms)" % (ms, a.dur_tol_ms))
            if abs(t["dbfs"] - a.level_dbfs) > a.level_tol_db:
                bad.append("level (want %.2f +-%.1f dB)" % (a.level_dbfs, a.level_tol_db))
            if t["max_gap_ms"] > a.max_gap_ms:
                bad.append("gap (at most %.0f ms)" % a.max_gap_ms)
            line += ": " + ("ok" if not bad else "BAD " + ", ".join(bad))
            ok = ok and not bad
        else:
            line += ": unexpected"
        print(line)
    print("verdict: %s" % ("tones match" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
