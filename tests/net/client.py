#!/usr/bin/env python3
"""tests/net/client.py — what a sandbox does in tests/net/run, one action per call, answering one
line: "ok …" or "err ERRNO_NAME …".  It ignores HTTP_PROXY and every resolver library: DNS is
asked by hand of the stub (127.0.0.53), connections are raw connect() calls.

  client.py dns NAME [A|AAAA|TXT]          → ok RCODE addr,addr
  client.py connect ADDR PORT               → ok | err ECONNREFUSED …
  client.py https ADDR PORT SNI [HOST]      → ok <the server's "who=…" line>
  client.py http ADDR PORT HOST [HOST2]     → ok <line>  (HOST2: a second request on the connection)
  client.py udp ADDR PORT                   → ok sent | err EACCES
  client.py fastopen ADDR PORT              → ok | err …
  client.py icmp ADDR                       → ok sent | err …
  client.py raw-dns SERVER NAME             → a hand-made query to another server's port 53
"""
import errno
import os
import socket
import ssl
import struct
import sys


def err(e):
    return "err %s" % errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) and e.errno else "err %s" % type(e).__name__


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def dns_query(name, qtype, server="127.0.0.53"):
    types = {"A": 1, "AAAA": 28, "TXT": 16}
    q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", types[qtype], 1)
    s = socket.socket(family(server), socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, (server, 53))
    r = s.recv(4096)
    rcode = r[3] & 0xF
    an = struct.unpack("!H", r[6:8])[0]
    off = 12
    while r[off]:
        off += 1 + r[off]
    off += 5
    addrs = []
    for _ in range(an):
        off += 2  # pointer
        t, _c, _ttl, ln = struct.unpack("!HHIH", r[off:off + 10])
        off += 10
        if t == 1:
            addrs.append(socket.inet_ntop(socket.AF_INET, r[off:off + 4]))
        elif t == 28:
            addrs.append(socket.inet_ntop(socket.AF_INET6, r[off:off + 16]))
        off += ln
    names = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
    return "ok %s %s" % (names.get(rcode, rcode), ",".join(addrs) or "-")


def connect(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((addr, int(port)))
    return s


def read_all(s):
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError) as e:
            if out:
                break
            raise e
        if not d:
            break
        out += d
    return out


def who(resp):
    lines = [ln for ln in resp.decode("ascii", "replace").splitlines() if ln.startswith("who=")]
    if not lines:
        raise ConnectionResetError(errno.ECONNRESET, "no answer")
    return "ok " + " | ".join(lines)


def main(argv):
    cmd = argv[0]
    try:
        if cmd == "dns":
            return dns_query(argv[1], argv[2] if len(argv) > 2 else "A")
        if cmd == "raw-dns":
            return dns_query(argv[2], "A", server=argv[1])
        if cmd == "connect":
            s = connect(argv[1], argv[2])
            s.settimeout(2)
            try:
                d = s.recv(100)
            except socket.timeout:
                d = b"(silent)"
            return "ok " + (d.decode("ascii", "replace").strip() or "(closed)")
        if cmd == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(connect(argv[1], argv[2]), server_hostname=argv[3])
            host = argv[4] if len(argv) > 4 else argv[3]
            s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
            return who(read_all(s))
        if cmd == "http":
            s = connect(argv[1], argv[2])
            req = b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % argv[3].encode()
            if len(argv) > 4:
                req += b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % argv[4].encode()
            s.sendall(req)
            return who(read_all(s))
        if cmd == "udp":
            s = socket.socket(family(argv[1]), socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"\x00" * 1200, (argv[1], int(argv[2])))  # a QUIC-sized datagram
            try:
                s.recv(100)
                return "ok answered"
            except socket.timeout:
                return "ok sent-no-answer"
        if cmd == "fastopen":
            s = socket.socket(family(argv[1]), socket.SOCK_STREAM)
            s.sendto(b"GET / HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n", socket.MSG_FASTOPEN,
                     (argv[1], int(argv[2])))
            s.settimeout(5)
            d = s.recv(100)
            return "ok " + d.decode("ascii", "replace").strip()
        if cmd == "icmp":
            fam = family(argv[1])
            proto = socket.IPPROTO_ICMP if fam == socket.AF_INET else socket.IPPROTO_ICMPV6
            s = socket.socket(fam, socket.SOCK_RAW, proto)
            s.settimeout(2)
            pkt = struct.pack("!BBHHH", 8 if fam == socket.AF_INET else 128, 0, 0, 1, 1)
            s.sendto(pkt, (argv[1], 0))
            try:
                s.recv(100)
                return "ok answered"
            except socket.timeout:
                return "ok sent-no-answer"
        return "err usage"
    except Exception as e:  # noqa: BLE001 - every failure is one line of output
        return err(e)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
    sys.stdout.flush()
    os._exit(0)
