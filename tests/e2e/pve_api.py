#!/usr/bin/env python3
"""A stand-in for the Proxmox VE API (https://HOST:8006), for tests/e2e/pve.sh.

Proxmox itself does not run here. This server implements the four calls a
barespice kiosk makes, with the shapes of the Proxmox VE API viewer
(https://pve.proxmox.com/pve-docs/api-viewer/):

  GET  /api2/json/cluster/resources?type=vm
  GET  /api2/json/nodes/{node}/qemu/{vmid}/status/current
  POST /api2/json/nodes/{node}/qemu/{vmid}/status/start
  POST /api2/json/nodes/{node}/qemu/{vmid}/spiceproxy

over HTTPS (certificate from the test's openssl CA), checking
"Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET" (401 otherwise, as
Proxmox). One VM exists; it starts "stopped" and is "running" 2 s after a
start. Unknown VM ids answer 500 "Configuration file ... does not exist", as
Proxmox does. spiceproxy honours the documented "proxy" parameter (the
answer's proxy is http://PROXY:PORT). spiceproxy makes a REAL one-time ticket: a fresh random
password set on the lab SPICE server through QMP set_password, expiring 40 s
later (expire_password), so an older ticket stops working as soon as a newer
one is issued and any ticket stops after 40 s. Every request is logged (no
secrets) to stdout.

usage: pve_api.py --port N --cert C --key K --token ID --secret S --node N
       --vmid V --name NAME --qmp SOCK --spice-host H --tls-port P --proxy URL
       --ca-file CA --subject SUBJ
"""
import argparse
import http.server
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "lib"))
from qmp import QMP  # noqa: E402

A = None
STATE = {"started_at": None}
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # a client that stops mid-request does not hold its thread for ever

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, reason, data):
        body = json.dumps({"data": data}).encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        print(f"{self.command} {self.path} -> {code} {reason}", flush=True)

    def running(self):
        t = STATE["started_at"]
        return t is not None and time.time() - t >= 2.0

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        want = f"PVEAPIToken={A.token}={A.secret}"
        if self.headers.get("Authorization") != want:
            return self.answer(401, "authentication failure", None)
        path = self.path
        if self.command == "GET" and path == "/api2/json/cluster/resources?type=vm":
            return self.answer(200, "OK", [
                {"id": f"qemu/{A.vmid}", "type": "qemu", "vmid": A.vmid, "node": A.node, "name": A.name,
                 "status": "running" if self.running() else "stopped"}])
        m = re.fullmatch(r"/api2/json/nodes/([^/]+)/qemu/(\d+)/(status/current|status/start|spiceproxy)", path)
        if not m:
            return self.answer(501, f"Method '{self.command} {path}' not implemented", None)
        node, vmid, call = m.group(1), int(m.group(2)), m.group(3)
        if node != A.node or vmid != A.vmid:
            return self.answer(500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist", None)
        if call == "status/current" and self.command == "GET":
            return self.answer(200, "OK", {"vmid": vmid, "name": A.name,
                                           "status": "running" if self.running() else "stopped"})
        if call == "status/start" and self.command == "POST":
            with LOCK:
                if STATE["started_at"] is None:
                    STATE["started_at"] = time.time()
            return self.answer(200, "OK", f"UPID:{node}:00001234:00005678:{int(time.time()):08X}:qmstart:{vmid}:{A.token}:")
        if call == "spiceproxy" and self.command == "POST":
            if not self.running():
                return self.answer(500, f"VM {vmid} not running", None)
            password = secrets.token_urlsafe(12)
            try:
                with QMP(A.qmp) as q:
                    q.cmd("set_password", protocol="spice", password=password)
                    q.cmd("expire_password", protocol="spice", time="+40")
            except Exception as e:  # the VM's QEMU is down (a lab server restart)
                return self.answer(500, f"VM {vmid} qmp command 'set_password' failed - {type(e).__name__}", None)
            ticket = A.spice_host
            # Proxmox answers proxy "http://{proxy}:3128" when the client names
            # the node it reaches (the web UI passes its own host name); the
            # stand-in keeps its spiceproxy's port.
            proxy = A.proxy
            asked = parse_qs(body).get("proxy")
            if asked and re.fullmatch(r"[A-Za-z0-9.-]+", asked[0]):
                proxy = f"http://{asked[0]}:{A.proxy.rsplit(':', 1)[1]}"
            print(f"ticket issued for {ticket} (fresh password, expires in 40 s); form body: {body!r}", flush=True)
            with open(A.ticket_log, "a") as f:
                f.write(ticket + "\n")
            return self.answer(200, "OK", {
                "type": "spice", "title": f"VM {vmid} - {A.name}", "host": ticket, "proxy": proxy,
                "tls-port": A.tls_port, "password": password, "ca": open(A.ca_file).read(),
                "host-subject": A.subject, "delete-this-file": 1, "secure-attention": "Ctrl+Alt+Ins",
                "release-cursor": "Ctrl+Alt+R", "toggle-fullscreen": "Shift+F11"})
        return self.answer(501, f"Method '{self.command} {path}' not implemented", None)

    do_GET = handle_any
    do_POST = handle_any


def main():
    global A
    p = argparse.ArgumentParser()
    for k in ("cert", "key", "token", "secret", "node", "name", "qmp", "proxy", "ca_file", "subject", "ticket_log", "spice_host"):
        p.add_argument("--" + k.replace("_", "-"), required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--vmid", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    A = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", A.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(A.cert, A.key)
    # The TLS handshake runs in the request's thread (on its first read), so a
    # client that gives up mid-handshake (a wrong pin) does not block accept().
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    print(f"Proxmox API stand-in on https://127.0.0.1:{A.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
