#!/usr/bin/env python3
"""A stand-in for Proxmox VE's spiceproxy, for tests/e2e/tls.sh.

Behaves as the issue describes Proxmox's proxy: it accepts HTTP CONNECT on
127.0.0.1:PORT, ignores the CONNECT line's target and routes by the *Host:*
header, whose host part is a name only this proxy can resolve (given with
--route NAME=ADDRESS; a Proxmox ticket "pvespiceproxy:...:node::hmac" in
real life). Known name: "HTTP/1.0 200 OK", then bytes are relayed both
ways. Unknown name: "HTTP/1.0 401 invalid ticket" and the connection ends.
Every decision is logged to stdout (one line per connection).

usage: spiceproxy.py --port N --route NAME=ADDRESS [--route ...]
"""
import argparse
import socket
import sys
import threading


def relay(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def log(msg):
    print(msg, flush=True)


def serve(conn, routes):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(1)
        if not chunk or len(head) > 8192:
            conn.close()
            return
        head += chunk
    lines = head.decode("latin-1").split("\r\n")
    request = lines[0]
    host = ""
    for line in lines[1:]:
        if line.lower().startswith("host:"):
            host = line.split(":", 1)[1].strip()
    name, _, port = host.rpartition(":")
    if not request.startswith("CONNECT ") or name not in routes or not port.isdigit():
        log(f"refused: request {request!r} host {host!r}")
        conn.sendall(b"HTTP/1.0 401 invalid ticket\r\n\r\n")
        conn.close()
        return
    try:
        upstream = socket.create_connection((routes[name], int(port)), timeout=10)
        upstream.settimeout(None)
    except OSError as e:
        log(f"upstream failed: {host!r}: {e}")
        conn.sendall(b"HTTP/1.0 502 Bad Gateway\r\n\r\n")
        conn.close()
        return
    log(f"routed by Host: {host!r} -> {routes[name]}:{port} (request line {request!r})")
    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
    threading.Thread(target=relay, args=(conn, upstream), daemon=True).start()
    threading.Thread(target=relay, args=(upstream, conn), daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--route", action="append", default=[])
    a = p.parse_args()
    routes = dict(r.split("=", 1) for r in a.route)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    log(f"spiceproxy: listening on 127.0.0.1:{a.port}")
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, routes), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
