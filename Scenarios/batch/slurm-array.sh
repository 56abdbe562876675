#!/bin/bash
# A sweep too big for one machine, fanned out as a Slurm job array: task i (1…8) runs shard
# i of 8. Submit with `sbatch Scenarios/batch/slurm-array.sh` from the repository root, with
# lbsim built (swift build -c release) and on PATH; then join the shards:
#   lbsim merge results/shard-{1..8} --out results/merged
# or chain it: sbatch --dependency=afterok:<array job id> --wrap "lbsim merge results/shard-{1..8} --out results/merged"
#SBATCH --job-name=lbsim-sweep
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --time=01:00:00
#SBATCH --output=results/slurm-%A_%a.out
set -euo pipefail
mkdir -p results
lbsim sweep Scenarios/crash-during-peak.yaml \
    --grid balancer.health_check.active.fall=1..5 \
    --grid balancer.health_check.active.rise=1..5 \
    --seeds 10 --jobs "${SLURM_CPUS_PER_TASK:-2}" \
    --shard "${SLURM_ARRAY_TASK_ID}/8" --out "results/shard-${SLURM_ARRAY_TASK_ID}"
