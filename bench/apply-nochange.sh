#!/usr/bin/env bash
# Wall time of `trio apply` when nothing changed (target: under 100 ms).
# It observes packages, configs, the agent and the database, and does nothing.
source "$(dirname "$0")/lib.sh"
runs=${RUNS:-50}
build_trio
new_stack; stack=$STACK
trio up -C "$stack"
"$TRIO" apply -C "$stack" 2>/dev/null | grep -qx 'no changes'
echo "no-change trio apply, $runs runs:"
for _ in $(seq "$runs"); do
  t0=$(now_ms); trio apply -C "$stack"; t1=$(now_ms)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f\n", b-a}'
done | stats
