#!/usr/bin/env python3
# A misbehaving HTTP/1.1 backend on 127.0.0.1:18394 for .ci/h2-chaos.py: reads bodies (length
# or chunked), sometimes closes without answering or answers late. Stop it with its timeout.
import socket, threading, random, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(("127.0.0.1", 18394)); ls.listen(128)
def serve(c):
    try:
        c.settimeout(5); buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d: return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n"); h = {l.split(b":")[0].strip().lower(): l.split(b":",1)[1].strip() for l in lines[1:] if b":" in l}
            if b"content-length" in h:
                n = int(h[b"content-length"])
                while len(buf) < n:
                    d = c.recv(65536)
                    if not d: return
                    buf += d
                buf = buf[n:]
            elif h.get(b"transfer-encoding") == b"chunked":
                while b"0\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d: return
                    buf += d
                buf = buf[buf.index(b"0\r\n\r\n")+5:]
            r = random.random()
            if r < 0.05: c.close(); return
            if r < 0.1: time.sleep(0.2)
            body = b"y" * random.choice([0, 5, 20000])
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except Exception: pass
    finally: c.close()
while True:
    c, _ = ls.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
