#!/usr/bin/env python3
# Usage: python3 .ci/h2-chaos.py PORT SECONDS SEED   (pip install h2). Against `lbsim proxy` with
# `http2: {}` on loopback; bounded by SECONDS. The proxy must stay up (check it after).
# Random HTTP/2 client behaviour against the proxy (loopback, bounded): resets at random
# moments, abrupt closes, trailers, bodies with and without content-length, pings.
import socket, random, time, sys, h2.connection, h2.config, h2.events, h2.exceptions
port = int(sys.argv[1]); seconds = float(sys.argv[2]); rnd = random.Random(int(sys.argv[3]))
deadline = time.time() + seconds; conns = 0; ok = 0
while time.time() < deadline:
    conns += 1
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False))
        c.initiate_connection(); s.sendall(c.data_to_send())
        for i in range(rnd.randint(1, 8)):
            sid = c.get_next_available_stream_id()
            body = b"x" * rnd.choice([0, 10, 70000, 300000])
            hdrs = [(":method", rnd.choice(["GET", "POST", "HEAD", "PUT"])), (":path", rnd.choice(["/", "/a/../b", "//x", "/%61"])), (":scheme", "http"), (":authority", "t")]
            if body and rnd.random() < 0.5: hdrs.append(("content-length", str(len(body) + rnd.choice([0, 0, 0, -1, 1]))))
            if rnd.random() < 0.1: hdrs.append(("te", "trailers"))
            c.send_headers(sid, hdrs, end_stream=not body)
            if body:
                sent = 0
                while sent < len(body):
                    n = min(c.local_flow_control_window(sid), c.max_outbound_frame_size, len(body) - sent)
                    if n <= 0: break
                    c.send_data(sid, body[sent:sent+n]); sent += n
                    if rnd.random() < 0.05: c.reset_stream(sid); break
                else:
                    if rnd.random() < 0.2: c.send_headers(sid, [("x-trailer", "1")], end_stream=True)
                    else: c.end_stream(sid)
            if rnd.random() < 0.1: c.reset_stream(sid)
            if rnd.random() < 0.1: c.ping(b"12345678")
            s.sendall(c.data_to_send())
        end = time.time() + rnd.choice([0, 0.05, 0.3])
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            try: data = s.recv(65536)
            except socket.timeout: break
            if not data: break
            for e in c.receive_data(data):
                if isinstance(e, h2.events.StreamEnded): ok += 1
            s.sendall(c.data_to_send())
        if rnd.random() < 0.5: s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    except (OSError, h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, h2.exceptions.FlowControlError) as e:
        pass
print(f"{conns} connections, {ok} streams ended")
