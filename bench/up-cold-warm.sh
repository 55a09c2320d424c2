#!/usr/bin/env bash
# Time from `trio up` to the app's first 200: cold (a new data directory:
# the database is initialised, schema and migrations applied) and warm
# (after `trio down`, data kept). Target: warm under 2 s.
# `trio up` returns only once the health path answered 200.
source "$(dirname "$0")/lib.sh"
runs=${RUNS:-5}
build_trio
cold=() warm=()
for i in $(seq "$runs"); do
  new_stack; stack=$STACK
  t0=$(now_ms); trio up -C "$stack"; t1=$(now_ms)
  curl -fsS -o /dev/null "$(stack_url "$stack")"
  cold+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')")
  trio down -C "$stack"
  t0=$(now_ms); trio up -C "$stack"; t1=$(now_ms)
  curl -fsS -o /dev/null "$(stack_url "$stack")"
  warm+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')")
  trio down --volumes -C "$stack"
done
echo "trio up to first 200, cold (new database), $runs runs:"
printf '%s\n' "${cold[@]}" | stats
echo "trio up to first 200, warm (after down), $runs runs:"
printf '%s\n' "${warm[@]}" | stats
