#!/usr/bin/env python3
"""Split a netbooted QEMU virt serial stream: U-Boot's text, then our defmt frames.

usage: uboot_split.py < SERIAL_BYTES > FIRMWARE_BYTES   (U-Boot's lines on stderr)

scripts/emulate --boot net pipes the serial port through this before
defmt-print: U-Boot (the machine's firmware) prints plain text until it jumps
to our image, after which the port carries binary defmt frames. Each U-Boot
line goes to stderr as "u-boot +S.SSSs: TEXT", S = seconds since this filter
started (about when QEMU powered on). Once U-Boot prints "Starting kernel ..."
and its line ends ("\\r\\n\\r\\n"), every later byte is copied to stdout
unchanged. Owns only this split; decoding stays with defmt-print.
"""
import os
import sys
import time

MARKER = b"Starting kernel ..."
TRAILER = b"\r\n\r\n"


def drop_trailer(chunk, trailer_left):
    """Drop the start of chunk while it continues U-Boot's expected line end."""
    while trailer_left and chunk and chunk[:1] == trailer_left[:1]:
        chunk, trailer_left = chunk[1:], trailer_left[1:]
    return chunk, (trailer_left if not chunk else b"")


def main():
    t0 = time.monotonic()
    inp, out, err = sys.stdin.buffer.raw, sys.stdout.buffer, sys.stderr
    line = bytearray()
    passthrough = False
    trailer_left = b""

    def emit(text):
        err.write("u-boot +%.3fs: %s\n" % (time.monotonic() - t0, text.decode(errors="replace").rstrip("\r")))
        err.flush()

    while True:
        chunk = os.read(inp.fileno(), 4096)
        if not chunk:
            break
        if passthrough:
            # Drop the end of U-Boot's last line, byte for byte as it is expected.
            chunk, trailer_left = drop_trailer(chunk, trailer_left)
            if chunk:
                out.write(chunk)
                out.flush()
            continue
        for i, b in enumerate(chunk):
            if b == 0x0A:
                emit(bytes(line))
                line.clear()
                continue
            line.append(b)
            if line.endswith(MARKER):
                emit(bytes(line))
                passthrough = True
                rest, trailer_left = drop_trailer(chunk[i + 1:], TRAILER)
                if rest:
                    out.write(rest)
                    out.flush()
                break
    if line and not passthrough:
        emit(bytes(line))


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
