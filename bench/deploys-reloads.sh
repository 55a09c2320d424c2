#!/usr/bin/env bash
# Failed requests during 20 code deploys and 20 HAProxy reloads, under wrk
# keep-alive load on the guestbook page through HAProxy (target: 0).
source "$(dirname "$0")/lib.sh"
n=${N:-20}
require wrk wrk
build_trio
new_stack; stack=$STACK
sed -i 's/^  server_name: guestbook.local$/  server_name: guestbook.local\n  replicas: 2/; s/^app:$/app:\n  replicas: 2/' "$stack/trio.yaml"
printf 'lb: {check_interval: 1000ms}\n' >>"$stack/trio.yaml"
trio up -C "$stack"
url=$(stack_url "$stack")

measure() { # what, then the commands to run under load
  local what=$1 out; shift
  out=$(mktemp)
  wrk -t2 -c16 -d600s "$url" >"$out" 2>&1 &
  local wrkpid=$!
  sleep 1
  "$@"
  sleep 1
  kill -INT "$wrkpid"; wait "$wrkpid" || true
  local requests non2xx sockerr
  requests=$(awk '/requests in/ {print $1}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); non2xx=${non2xx:-0}
  sockerr=$(awk '/Socket errors/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i} END {print s + 0}' "$out")
  echo "$what: requests=$requests non_2xx=$non2xx socket_errors=$sockerr failed=$((non2xx + sockerr))"
}

deploys() {
  for i in $(seq "$n"); do
    printf '<?php // release %d\n' "$i" >"$stack/src/release.php"
    "$TRIO" apply -C "$stack" 2>/dev/null | grep -c '^deploy app' >/dev/null || { echo "deploy $i did not deploy" >&2; exit 1; }
  done
}
reloads() {
  for i in $(seq "$n"); do
    sed -i "s/check_interval: [0-9]*ms/check_interval: $((1000 + i))ms/" "$stack/trio.yaml"
    "$TRIO" apply -C "$stack" 2>/dev/null | grep -c '^reload lb-0' >/dev/null || { echo "reload $i did not reload" >&2; exit 1; }
  done
}
measure "$n code deploys (2 app instances each)" deploys
measure "$n HAProxy reloads" reloads
