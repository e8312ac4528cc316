#!/usr/bin/env python3
"""tests/net/servers.py — the test hosts of tests/net/run, started inside their own network
namespace: a DNS server (UDP and TCP) whose answers are fixed by the harness and which logs every
question it receives, and HTTP (80) / HTTPS (443, its own certificate) / plain TCP (8443, 5432)
servers that answer who they are and what SNI and Host they saw.  Stops by itself after --ttl
seconds.  Only standard library.

  servers.py --dns-log FILE --cert CERT --key KEY --ttl SECONDS --zone NAME=ADDR[,ADDR] ...
"""
import argparse
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--dns-log", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ttl", type=float, default=300)
    p.add_argument("--zone", action="append", default=[])
    p.add_argument("--ready", required=True)
    return p.parse_args()


ARGS = parse_args()
ZONE = {}
for z in ARGS.zone:
    name, addrs = z.split("=", 1)
    ZONE[name.lower()] = addrs.split(",")
LOG_LOCK = threading.Lock()


def log_question(text):
    with LOG_LOCK, open(ARGS.dns_log, "a") as f:
        f.write(text + "\n")


def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("pointer")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def answer(query):
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    name, off = read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    log_question("%s %d" % (name.lower(), qtype))
    records = []
    for a in ZONE.get(name.lower(), []):
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        if (qtype == 1 and fam == socket.AF_INET) or (qtype == 28 and fam == socket.AF_INET6):
            data = socket.inet_pton(fam, a)
            records.append(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 30, len(data)) + data)
    rcode = 0 if name.lower() in ZONE else 3
    head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0)
    return head + question + b"".join(records)


class DNSUDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        try:
            sock.sendto(answer(data), self.client_address)
        except Exception as e:  # noqa: BLE001 - a test server logs and goes on
            log_question("bad %r" % e)


class DNSTCP(socketserver.BaseRequestHandler):
    def handle(self):
        n = struct.unpack("!H", self.request.recv(2))[0]
        data = self.request.recv(n)
        out = answer(data)
        self.request.sendall(struct.pack("!H", len(out)) + out)


class Who(socketserver.BaseRequestHandler):
    """Reads one request head (HTTP) or nothing, answers with what it saw."""
    tls = False

    def handle(self):
        sock = self.request
        sni = "-"
        if self.tls:
            sock = CTX.wrap_socket(sock, server_side=True)
            sni = getattr(sock, "sni_seen", None) or "-"
        sock.settimeout(5)
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            host = "-"
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"host:"):
                    host = line[5:].strip().decode("ascii", "replace")
            local = sock.getsockname()[0]
            body = ("who=%s sni=%s host=%s\n" % (local, SNI.get(id(self.request), sni), host)).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        except (OSError, ssl.SSLError):
            pass


class WhoTLS(Who):
    tls = True


class Sink(socketserver.BaseRequestHandler):
    """Plain TCP: says who it is, then echoes."""

    def handle(self):
        self.request.sendall(("who=%s\n" % self.request.getsockname()[0]).encode())
        try:
            while True:
                d = self.request.recv(65536)
                if not d:
                    return
                self.request.sendall(d)
        except OSError:
            pass


SNI = {}
CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CTX.load_cert_chain(ARGS.cert, ARGS.key)


def remember_sni(sslsock, name, ctx):
    sslsock.sni_seen = name


CTX.sni_callback = remember_sni


class TCP4(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class TCP6(TCP4):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class UDP4(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True


class UDP6(UDP4):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def serve(cls, addr, handler):
    s = cls(addr, handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()


for fam4, fam6 in ((TCP4, TCP6),):
    for port, h in ((80, Who), (443, WhoTLS), (8443, Sink), (5432, Sink)):
        serve(fam4, ("0.0.0.0", port), h)
        serve(fam6, ("::", port), h)
# UDP bound to the server's own addresses: answers then come from the address asked (a client
# that connect()s its socket, as moonjail-net does, drops answers from any other).
serve(UDP4, ("198.51.100.53", 53), DNSUDP)
serve(UDP6, ("2001:db8:100::53", 53), DNSUDP)
serve(TCP4, ("0.0.0.0", 53), DNSTCP)
open(ARGS.ready, "w").write("ready\n")
time.sleep(ARGS.ttl)
sys.exit(0)
