#!/usr/bin/env python3
"""Send one DHCPDISCOVER as a Raspberry Pi bootloader does and print every answer.

usage: netboot_dhcp.py IFACE MAC [--vendor TEXT] [--wait S]

Run inside the network namespace of the client side of a lab network. The
DISCOVER carries option 60 (default "PXEClient:Arch:00000:UNDI:002001", the
Pi's vendor class), 93 (client architecture 0), 94 (UNDI 2.1) and 97 (a
machine UUID), as the Pi boot ROM and EEPROM send them, with the broadcast
flag set so the servers broadcast their OFFERs. Every OFFER seen within
--wait seconds is printed as one line:
  OFFER server=<option 54> yiaddr=<...> siaddr=<...> vendor=<option 60> menu=<...>
where menu is the PXE boot menu text of option 43 (sub-option 9), repr()'d so
trailing spaces show. Exit 0 when at least one OFFER arrived, 1 otherwise. Only
a test helper: the peers are real DHCP servers (dnsmasq).
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

SO_BINDTODEVICE = 25


def discover(mac, xid, vendor):
    pkt = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                      b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")
    opts = b"\x63\x82\x53\x63"
    opts += bytes([53, 1, 1])
    opts += bytes([55, 6, 1, 3, 43, 60, 66, 67])
    opts += bytes([93, 2, 0, 0])
    opts += bytes([94, 3, 1, 2, 1])
    opts += bytes([97, 17, 0]) + mac * 2 + mac[:4]
    v = vendor.encode()
    opts += bytes([60, len(v)]) + v
    opts += b"\xff"
    return pkt + opts


def options(data):
    """The DHCP options of a reply as {code: bytes}; ignores anything malformed."""
    out, i = {}, 240
    if data[236:240] != b"\x63\x82\x53\x63":
        return out
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        n = data[i + 1]
        out[code] = data[i + 2:i + 2 + n]
        i += 2 + n
    return out


def menu_text(opt43):
    """Sub-option 9 (PXE boot menu) of option 43: 2-byte type, 1-byte length, text."""
    i = 0
    while i + 1 < len(opt43):
        code, n = opt43[i], opt43[i + 1]
        body = opt43[i + 2:i + 2 + n]
        if code == 9 and len(body) >= 3:
            return body[3:3 + body[2]].decode(errors="replace")
        if code == 255:
            break
        i += 2 + n
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("mac")
    ap.add_argument("--vendor", default="PXEClient:Arch:00000:UNDI:002001")
    ap.add_argument("--wait", type=float, default=4.0)
    a = ap.parse_args()
    mac = bytes(int(x, 16) for x in a.mac.replace("-", ":").split(":"))
    xid = random.getrandbits(32)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, a.iface.encode())
    s.bind(("0.0.0.0", 68))
    s.sendto(discover(mac, xid, a.vendor), ("255.255.255.255", 67))
    print(f"sent DISCOVER on {a.iface} from {a.mac}, option 60 {a.vendor!r}")
    end, seen = time.time() + a.wait, 0
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            data, peer = s.recvfrom(4096)
        except socket.timeout:
            break
        if len(data) < 240 or data[0] != 2 or struct.unpack_from("!I", data, 4)[0] != xid:
            continue
        o = options(data)
        kind = {2: "OFFER", 5: "ACK", 6: "NAK"}.get(o.get(53, b"\0")[0], "type-%d" % o.get(53, b"\0")[0])
        server = socket.inet_ntoa(o[54]) if len(o.get(54, b"")) == 4 else "-"
        menu = menu_text(o[43]) if 43 in o else None
        print(f"{kind} server={server} from={peer[0]} yiaddr={socket.inet_ntoa(data[16:20])} "
              f"siaddr={socket.inet_ntoa(data[20:24])} vendor={o.get(60, b'').decode(errors='replace')!r} "
              f"opt43={o[43].hex() if 43 in o else '-'} menu={menu!r}")
        seen += 1
    sys.stdout.flush()
    return 0 if seen else 1


if __name__ == "__main__":
    sys.exit(main())
