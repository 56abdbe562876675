#!/usr/bin/env python3
"""The same small configurations in real HAProxy (Debian's 2.6) and in `lbsim proxy`, on
loopback, with backends this script controls: what each client got, how long it took, and
what each backend received. Used for docs/fidelity.md; run by `.ci/peer-compare`.

Cases:
  queue      one server, maxconn 1, 200 ms per answer, timeout queue 300 ms; 4 clients at once
  retries    round robin over a dead server and a live one; retries 3 on the same server,
             connect timeout 200 ms (so a 200 ms turn-around); 4 requests one after another
  redispatch the same with option redispatch (lbsim: retry.redispatch -1)
  nginx      nginx 1.22 in front of the dead server and the live one, with its defaults
             (proxy_next_upstream error timeout, max_fails=1 fail_timeout=10s); lbsim with
             retry.like nginx and passive max_fails
  slowstart  round robin over a and b, checks every 200 ms (fall 1, rise 1), slowstart 4s;
             b fails its checks, then passes from 1.5 s on: b's share of 50 requests/s in each
             second after it came back (lbsim: slow_start window 4s, min_weight_percent 6.25%)

Every load loop is bounded; every process started here is stopped at the end.
"""
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

LBSIM = sys.argv[1] if len(sys.argv) > 1 else ".build/release/lbsim"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend:
    """An HTTP server answering its name after `delay` seconds, counting what it received."""

    def __init__(self, name, delay=0.0):
        self.name, self.delay, self.received = name, delay, 0
        self.healthy, self.times = True, []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path != "/health":
                    backend.received += 1
                    backend.times.append(time.monotonic())
                    time.sleep(backend.delay)
                body = backend.name.encode()
                self.send_response(200 if self.path != "/health" or backend.healthy else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a proxy closing an idle keep-alive connection at the end is not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def fetch(port, timeout=10):
    start = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = -1
    return status, round((time.monotonic() - start) * 1000)


def wait_listening(port, deadline=10):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def haproxy(config, port):
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(config)
    process = subprocess.Popen(["haproxy", "-db", "-f", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    return process


def lbsim(config, port):
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "proxy.yaml")
    with open(path, "w") as f:
        f.write(config)
    process = subprocess.Popen([LBSIM, "proxy", "--config", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    return process


def nginx(port, servers):
    directory = tempfile.mkdtemp()
    upstream = "\n".join(f"    server 127.0.0.1:{p};" for _, p, _ in servers)
    config = f"""daemon off; master_process off; pid {directory}/nginx.pid; error_log {directory}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {directory}; proxy_temp_path {directory}; fastcgi_temp_path {directory};
  uwsgi_temp_path {directory}; scgi_temp_path {directory};
  upstream be {{
{upstream}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://be; proxy_connect_timeout 200ms; }}
  }}
}}
"""
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as f:
        f.write(config)
    process = subprocess.Popen(["nginx", "-p", directory, "-c", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    return process


def haproxy_config(port, servers, extra):
    lines = [
        "global", "  maxconn 1000", "defaults", "  mode http", "  timeout client 10s", "  timeout server 10s",
        "  timeout connect 200ms", "  timeout queue 300ms", "  retries 3", extra,
        f"frontend fe", f"  bind 127.0.0.1:{port}", "  default_backend be",
        "backend be", "  balance roundrobin",
    ]
    lines += [f"  server {name} 127.0.0.1:{p}{' maxconn ' + str(m) if m else ''}" for name, p, m in servers]
    return "\n".join(lines) + "\n"


def lbsim_config(port, servers, retry):
    backends = "\n".join(
        f"  - {{ name: {name}, address: \"127.0.0.1:{p}\"{', max_connections: ' + str(m) if m else ''} }}" for name, p, m in servers
    )
    return f"""listen: 127.0.0.1:{port}
balancer:
  algorithm: round_robin
  retries: 3
  retry: {retry}
  queue: {{ timeout: 300ms }}
  timeouts: {{ connect: 200ms, read: 10s }}
backends:
{backends}
"""


def concurrently(port, n):
    results = [None] * n

    def one(i):
        results[i] = fetch(port)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.01)  # in order, so that waits line up
    for t in threads:
        t.join()
    return results


def slowstart(peer):
    """b's share of the requests in each second after its checks pass again."""
    port = free_port()
    a, b = Backend("a"), Backend("b")
    b.healthy = False
    if peer == "haproxy":
        config = "\n".join([
            "global", "  maxconn 1000", "defaults", "  mode http", "  timeout client 10s", "  timeout server 10s", "  timeout connect 200ms",
            "frontend fe", f"  bind 127.0.0.1:{port}", "  default_backend be", "backend be", "  balance roundrobin",
            "  option httpchk GET /health", "  default-server check inter 200ms fall 1 rise 1 slowstart 4s",
            f"  server a 127.0.0.1:{a.port}", f"  server b 127.0.0.1:{b.port}",
        ]) + "\n"
        process = haproxy(config, port)
    else:
        process = lbsim(f"""listen: 127.0.0.1:{port}
balancer:
  algorithm: round_robin
  health_check: {{ active: {{ interval: 200ms, fall: 1, rise: 1, path: /health }} }}
  slow_start: {{ window: 4s, aggression: 1, min_weight_percent: 6.25% }}
backends:
  - {{ name: a, address: "127.0.0.1:{a.port}" }}
  - {{ name: b, address: "127.0.0.1:{b.port}" }}
""", port)
    try:
        start = time.monotonic()
        back = start + 1.5
        for i in range(400):  # 50 requests/s for 8 s, paced from each request's intended time
            if time.monotonic() >= back:
                b.healthy = True
            delay = start + i * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            fetch(port)
    finally:
        process.terminate()
        process.wait(timeout=10)
        a.stop()
        b.stop()
    shares = []
    for second in range(6):
        lo, hi = back + second, back + second + 1
        na = sum(lo <= t < hi for t in a.times)
        nb = sum(lo <= t < hi for t in b.times)
        shares.append(nb / max(1, na + nb))
    return shares


def run(case, peer):
    port = free_port()
    if case == "queue":
        slow = Backend("a", delay=0.2)
        servers = [("a", slow.port, 1)]
        backends = [slow]
    else:
        dead, live = free_port(), Backend("b")
        servers = [("a", dead, 0), ("b", live.port, 0)]
        backends = [live]
    if peer == "nginx":
        process = nginx(port, servers)
    elif case == "nginx":
        config = lbsim_config(port, servers, "{ like: nginx }").replace("  retries: 3\n", "")
        config = config.replace("  queue:", "  health_check: { passive: { style: max_fails } }\n  queue:")
        process = lbsim(config, port)
    elif peer == "haproxy":
        process = haproxy(haproxy_config(port, servers, "  option redispatch" if case == "redispatch" else ""), port)
    else:
        retry = "{ like: haproxy, redispatch: -1 }" if case == "redispatch" else "{ like: haproxy }"
        process = lbsim(lbsim_config(port, servers, retry), port)
    try:
        if case == "queue":
            results = concurrently(port, 4)
        else:
            results = [fetch(port) for _ in range(4)]
    finally:
        process.terminate()
        process.wait(timeout=10)
        for b in backends:
            b.stop()
    return results, {b.name: b.received for b in backends}


def main():
    print("case        peer     statuses (ms)                                   backends received")
    for case in ["queue", "retries", "redispatch", "nginx"]:
        for peer in ["nginx" if case == "nginx" else "haproxy", "lbsim"]:
            results, received = run(case, peer)
            shown = "  ".join(f"{s}@{ms}" for s, ms in results)
            print(f"{case:<11} {peer:<8} {shown:<47} {received}")
    for peer in ["haproxy", "lbsim"]:
        shares = slowstart(peer)
        print(f"{'slowstart':<11} {peer:<8} b's share, seconds 1-6 after its return: " + "  ".join(f"{x:.2f}" for x in shares))


if __name__ == "__main__":
    main()
