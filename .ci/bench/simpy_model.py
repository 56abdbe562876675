"""The model of Scenarios/bench-1m-requests.yaml in SimPy, for a speed comparison with lbsim.

100 backends with 4 workers each and a FIFO queue, exponential service times (mean 28 ms),
Poisson arrivals at 10,000/s, power of two choices on (in-flight + 1). Prints requests,
mean latency and wall time as one line: `simpy requests=N mean_ms=M wall_s=W`.
"""
import random
import sys
import time

import simpy

BACKENDS, WORKERS, RATE, MEAN = 100, 4, 10_000.0, 0.028


def main(duration: float, seed: int) -> None:
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = [simpy.Resource(env, capacity=WORKERS) for _ in range(BACKENDS)]
    in_flight = [0] * BACKENDS
    stats = {"n": 0, "sum": 0.0}

    def request(b: int):
        arrival = env.now
        with servers[b].request() as slot:
            yield slot
            yield env.timeout(rng.expovariate(1 / MEAN))
        in_flight[b] -= 1
        stats["n"] += 1
        stats["sum"] += env.now - arrival

    def clients():
        while env.now < duration:
            yield env.timeout(rng.expovariate(RATE))
            a, b = rng.sample(range(BACKENDS), 2)
            chosen = b if in_flight[b] < in_flight[a] else a
            in_flight[chosen] += 1
            env.process(request(chosen))

    env.process(clients())
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started
    print(f"simpy requests={stats['n']} mean_ms={stats['sum'] / stats['n'] * 1000:.3f} wall_s={wall:.2f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
