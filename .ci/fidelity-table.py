"""Writes Results/fidelity/README.md: issue 20's targets, scenario by scenario, from every
Results/fidelity/<scenario>/fidelity.csv (`bash .ci/fidelity` calls it at its end)."""
import csv, glob, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "Results/fidelity"


def rows(path):
    with open(path) as f:
        return {r["metric"]: r for r in csv.DictReader(f)}


def pct(r, key="difference_pct"):
    v = r.get(key, "")
    return f"{float(v):+.1f}%" if v else "—"


def pair(r, key):
    return f"{float(r['sim_mean']):.1f} / {float(r['real_mean']):.1f}"


lines = [
    "# Simulated vs real: how far to trust the simulator",
    "",
    "`bash .ci/fidelity` (release build, 3 seeds per mode, the scenarios shortened as its table says)",
    "runs `lbsim fidelity` on seven library scenarios. Differences are real minus simulated, in percent",
    "of the simulated mean; in brackets, against the calibrated simulation (the proxy's measured CPU",
    "per request and path latency given back as `balancers:`, `calibrated.yaml`). Targets (issue 20):",
    "throughput within 2%, p50 and p99 within 10% or intervals overlapping, shares within 2 points,",
    "failed and retried within their intervals, every health transition matched within one probe",
    "interval. `Notebooks/fidelity.ipynb` plots them; `docs/fidelity.md` explains the gaps.",
    "",
    "| scenario | throughput | p50 (calibrated) | p99 (calibrated) | largest share gap | failed sim / real | retried sim / real | transitions matched, mean offset | apart (plain) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]
for path in sorted(glob.glob(f"{root}/*/fidelity.csv")):
    name = os.path.basename(os.path.dirname(path))
    m = rows(path)
    shares = [abs(float(r["real_mean"]) - float(r["sim_mean"])) * 100 for k, r in m.items() if k.startswith("share_")]
    health = "—"
    if "health_matched_pct" in m:
        health = f"{float(m['health_matched_pct']['real_mean']):.0f}%, {float(m['health_offset_s']['real_mean']) * 1000:.0f} ms"
    apart = ", ".join(k for k, r in m.items() if r["within"] == "false") or "none"
    lines.append(
        f"| [{name}]({name}/fidelity.csv) | {pct(m['throughput_rps'])} "
        f"| {pct(m['latency_p50_ms'])} ({pct(m['latency_p50_ms'], 'calibrated_difference_pct')}) "
        f"| {pct(m['latency_p99_ms'])} ({pct(m['latency_p99_ms'], 'calibrated_difference_pct')}) "
        f"| {max(shares):.2f} points | {pair(m['failed'], 'failed')} | {pair(m['retried'], 'retried')} | {health} | {apart} |"
    )
lines.append("")
with open(f"{root}/README.md", "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
