"""Soak test of `lbsim proxy` (see .ci/soak): mixed load on loopback for a bounded time while
backends crash, hang and restart and clients misbehave; samples the proxy's resident memory and
open descriptors and reports whether they stayed flat.

Everything listens on 127.0.0.1 and stops by itself after --seconds.
"""
import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time

BACKEND_PORTS = [18201, 18202, 18203]
PROXY_PORT = 18200
ADMIN_PORT = 18299


class Backend:
    """A small HTTP/1.1 server whose mode changes: ok, crashed (not listening), hung (accepts,
    never answers), slow."""

    def __init__(self, port):
        self.port = port
        self.mode = "ok"
        self.server = None
        self.writers = set()

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port, reuse_address=True)

    async def crash(self):
        self.mode = "crashed"
        if self.server:
            self.server.close()
            self.server = None
        for w in list(self.writers):
            w.transport.abort()  # reset what it holds
        self.writers.clear()

    async def restart(self, mode="ok"):
        self.mode = mode
        if not self.server:
            await self.start()

    async def handle(self, reader, writer):
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                chunked = b"transfer-encoding: chunked" in head.lower()
                if length:
                    await reader.readexactly(length)
                elif chunked:
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                if self.mode == "hung":
                    await asyncio.sleep(3600)
                if self.mode == "slow":
                    await asyncio.sleep(random.uniform(0.05, 0.5))
                body = b"x" * random.choice([5, 500, 50_000])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


async def well_behaved(deadline, stats):
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", PROXY_PORT), 5)
            for _ in range(random.randint(1, 20)):
                method = random.choice(["GET", "GET", "POST", "PUT"])
                body = b"b" * random.choice([0, 10, 100_000]) if method != "GET" else b""
                writer.write(b"%s /soak/%d HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n" % (method.encode(), random.randint(0, 99), len(body)) + body)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 40)
                status = int(head.split(b" ")[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await asyncio.wait_for(reader.readexactly(length), 40)
                stats[status] = stats.get(status, 0) + 1
                if b"connection: close" in head.lower():
                    break
            writer.close()
        except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError, asyncio.LimitOverrunError):
            stats["client_errors"] = stats.get("client_errors", 0) + 1
            await asyncio.sleep(0.05)


async def misbehaving(deadline, stats, kinds):
    """Slow heads, stalled bodies, resets mid-request, clients that never read, garbage."""
    while time.monotonic() < deadline:
        kind = random.choice(kinds)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", PROXY_PORT), 5)
            if kind == "slow_head":
                writer.write(b"GET / HTTP/1.1\r\nHo")
                await asyncio.sleep(random.uniform(0.1, 3))
            elif kind == "stalled_body":
                writer.write(b"POST /up HTTP/1.1\r\nHost: s\r\nContent-Length: 200000\r\n\r\n" + b"u" * random.choice([100, 90_000]))
                await asyncio.sleep(random.uniform(0.1, 3))
            elif kind == "reset":
                writer.write(b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n")
                await asyncio.sleep(random.uniform(0, 0.2))
                writer.transport.abort()
                stats[kind] = stats.get(kind, 0) + 1
                continue
            elif kind == "never_read":
                for _ in range(50):
                    writer.write(b"GET /pipelined HTTP/1.1\r\nHost: s\r\n\r\n")
                await asyncio.sleep(random.uniform(0.5, 3))
            elif kind == "garbage":
                writer.write(os.urandom(random.randint(1, 3000)))
                await asyncio.sleep(0.2)
            elif kind == "idle":
                await asyncio.sleep(random.uniform(0.5, 3))
            writer.transport.abort()
            stats[kind] = stats.get(kind, 0) + 1
        except (asyncio.TimeoutError, ConnectionError, OSError):
            stats["misbehaving_errors"] = stats.get("misbehaving_errors", 0) + 1
            await asyncio.sleep(0.05)


async def chaos(backends, deadline, events):
    while time.monotonic() < deadline:
        await asyncio.sleep(random.uniform(2, 8))
        b = random.choice(backends)
        action = random.choice(["crash", "hang", "slow", "restart"])
        if action == "crash":
            await b.crash()
        elif action == "restart":
            await b.restart("ok")
        else:
            await b.restart(action)
        events.append((round(time.monotonic(), 1), b.port, action))
    for b in backends:
        await b.restart("ok")


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lbsim", required=True)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--clients", type=int, default=40, help="well-behaved clients")
    parser.add_argument("--misbehaving", type=int, default=10, help="misbehaving clients")
    parser.add_argument("--kinds", default="slow_head,stalled_body,reset,never_read,garbage,idle")
    parser.add_argument("--out", default="lbsim-out/soak")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    config = os.path.join(args.out, "proxy.yaml")
    with open(config, "w") as f:
        f.write(f"""mode: l7
listen: 127.0.0.1:{PROXY_PORT}
admin: 127.0.0.1:{ADMIN_PORT}
balancer:
  algorithm: least_conn
  retries: 1
  timeouts: {{ connect: 500ms, read: 2s }}
  health_check:
    active: {{ path: /health, interval: 500ms, timeout: 300ms, fall: 2, rise: 2 }}
    passive: {{ consecutive_failures: 3, ejection: 2s, max_ejection_percent: 100 }}
backends:
""" + "".join(f"  - {{ name: b{i}, address: 127.0.0.1:{p} }}\n" for i, p in enumerate(BACKEND_PORTS)) + """client: { header_timeout: 2s, body_timeout: 2s, keepalive_timeout: 5s }
""")
    backends = [Backend(p) for p in BACKEND_PORTS]
    for b in backends:
        await b.start()
    proxy = subprocess.Popen([args.lbsim, "proxy", "--config", config], stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.out, "proxy.log"), "w"))
    try:
        await asyncio.sleep(1.5)
        start = time.monotonic()
        deadline = start + args.seconds
        stats, events, samples = {}, [], []
        tasks = [asyncio.create_task(well_behaved(deadline, stats)) for _ in range(args.clients)]
        tasks += [asyncio.create_task(misbehaving(deadline, stats, args.kinds.split(","))) for _ in range(args.misbehaving)]
        tasks.append(asyncio.create_task(chaos(backends, deadline, events)))
        while time.monotonic() < deadline:
            await asyncio.sleep(10)
            if proxy.poll() is not None:
                print(f"soak: the proxy exited with {proxy.returncode}", file=sys.stderr)
                return 1
            rss, fds = sample(proxy.pid)
            samples.append((round(time.monotonic() - start), rss, fds))
            print(f"soak: {samples[-1][0]:4d}s rss {rss / 1024:.1f} MB, {fds} fds, {sum(v for k, v in stats.items() if isinstance(k, int))} responses", flush=True)
        await asyncio.wait(tasks, timeout=60)
        for t in tasks:
            t.cancel()
        await asyncio.sleep(8)  # keep-alive and body timeouts close what the clients left
        rss, fds = sample(proxy.pid)
        samples.append((round(time.monotonic() - start), rss, fds))
        with open(os.path.join(args.out, "samples.csv"), "w") as f:
            f.write("time_s,rss_kb,fds\n" + "".join(f"{t},{r},{d}\n" for t, r, d in samples))
        statuses = {k: v for k, v in sorted(stats.items(), key=lambda kv: str(kv[0]))}
        print(f"soak: {len(events)} backend events, outcomes {statuses}")
        # Flat: after the first minute (pools, buffers and caches warm up), the last samples stay
        # within 20% of the first minute's, and descriptors return to what idle needs.
        warm = [s for s in samples if s[0] >= 60] or samples
        first_rss, last_rss = warm[0][1], samples[-1][1]
        peak_rss = max(s[1] for s in warm)
        print(f"soak: rss {first_rss / 1024:.1f} MB at {warm[0][0]}s, peak {peak_rss / 1024:.1f} MB, {last_rss / 1024:.1f} MB at the end; fds at the end {samples[-1][2]}")
        # Descriptors: no upward trend (the last third of the samples against the first third),
        # and at the end no more than the idle upstream pool (upstream_keepalive 32 a backend)
        # and a few client connections still inside their keep-alive time.
        third = max(1, len(warm) // 3)
        early_fds = sum(s[2] for s in warm[:third]) / third
        late_fds = sum(s[2] for s in warm[-third:]) / third
        print(f"soak: descriptors {early_fds:.0f} on average in the first third, {late_fds:.0f} in the last")
        ok = last_rss <= first_rss * 1.2 + 4096 and late_fds <= early_fds * 1.3 + 8 and samples[-1][2] <= 32 * len(BACKEND_PORTS) + 32
        print("soak: " + ("flat" if ok else "NOT FLAT"))
        return 0 if ok else 1
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(15)
        except subprocess.TimeoutExpired:
            proxy.kill()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
