"""Writes Results/README.md: one row of headline findings per committed baseline.

Run by `bash .ci/results`; reads only Results/*/compare.csv and the scenarios' opening comments.
"""
import csv
import glob
import os

def question(scenario_path):
    lines = []
    for line in open(scenario_path):
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith("Question:"):
            lines = [text[len("Question:"):].strip()]
        elif lines and not text.startswith(("Look at:", "Run:", "Try:", "Compare", "Shape:")) and not lines[-1].endswith("?"):
            lines.append(text)
        elif lines:
            break
    return " ".join(lines)

def main():
    print("# Results: committed baselines\n")
    print("Each directory holds what `lbsim compare` wrote for one library scenario (`compare.csv`,")
    print("`runs.csv`, and for the notebooks `cdf.csv` and the first seed's `first-seed-backends.csv`,")
    print("`first-seed-timeseries.csv`, `first-seed-health.csv`) and")
    print("`command.txt`, the exact command and the scenario's hash that `lbsim check` re-runs in CI.")
    print("Regenerate everything, this table included, with `bash .ci/results` (the list is")
    print("`.ci/baselines`: quick variants, short runs and few seeds, so CI can re-run them).\n")
    print("p99 is the mean over seeds with its 95% interval (Student's t), in milliseconds.\n")
    print("| scenario | question | best p99 (ms) | worst p99 (ms) | failed (best / worst) |")
    print("| --- | --- | --- | --- | --- |")
    for directory in sorted(glob.glob("Results/*/")):
        name = os.path.basename(os.path.dirname(directory))
        path = os.path.join(directory, "compare.csv")
        if not os.path.exists(path):
            continue
        p99 = {}
        failed = {}
        for row in csv.DictReader(open(path)):
            if row["metric"] == "latency_p99_ms":
                p99[row["algorithm"]] = (float(row["mean"]), float(row["ci95_low"]), float(row["ci95_high"]), row["seeds"])
            elif row["metric"] == "failed":
                failed[row["algorithm"]] = float(row["mean"])
        if not p99:
            continue
        ranked = sorted(p99, key=lambda a: p99[a][0])
        best, worst = ranked[0], ranked[-1]
        def cell(a):
            m, lo, hi, n = p99[a]
            return f"{a}: {m:.1f} [{lo:.1f}, {hi:.1f}]"
        scenario = f"Scenarios/{name}.yaml"
        q = question(scenario) if os.path.exists(scenario) else ""
        print(f"| [{name}]({name}/) | {q} | {cell(best)} | {cell(worst)} | {failed.get(best, 0):.0f} / {failed.get(worst, 0):.0f} |")

main()
