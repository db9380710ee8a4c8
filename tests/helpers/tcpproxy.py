#!/usr/bin/env python3
"""tcpproxy.py LISTEN_PORT TARGET_PORT CONTROL_FILE - a loopback TCP proxy
whose link a test can cut: while CONTROL_FILE holds "cut", every
connection is dropped and new ones are refused at once; "up" restores it.
Used to play a network that drops, between countfs and a MariaDB shard."""
import os
import selectors
import socket
import sys
import time

listen_port, target_port, control = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def state():
    try:
        with open(control) as f:
            return f.read().strip()
    except OSError:
        return "up"


sel = selectors.DefaultSelector()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(64)
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ)
pairs = {}


def close(s):
    peer = pairs.pop(s, None)
    for x in (s, peer):
        if x is None:
            continue
        try:
            sel.unregister(x)
        except (KeyError, ValueError):
            pass
        pairs.pop(x, None)
        x.close()


while True:
    cut = state() == "cut"
    if cut:
        for s in list(pairs):
            close(s)
    for key, _ in sel.select(timeout=0.1):
        s = key.fileobj
        if s is srv:
            c, _ = srv.accept()
            if cut:
                c.close()
                continue
            try:
                t = socket.create_connection(("127.0.0.1", target_port), timeout=2)
            except OSError:
                c.close()
                continue
            for x in (c, t):
                x.setblocking(False)
                sel.register(x, selectors.EVENT_READ)
            pairs[c], pairs[t] = t, c
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data or s not in pairs:
            close(s)
            continue
        try:
            pairs[s].sendall(data)
        except OSError:
            close(s)
