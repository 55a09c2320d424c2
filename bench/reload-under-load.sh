#!/usr/bin/env bash
# Failed requests while 20 config-changing applies run under wrk load on the
# guestbook page (target: 0). The applies alternate between an nginx change
# (graceful reload, SIGHUP) and a PHP-FPM change (graceful reload, SIGUSR2).
source "$(dirname "$0")/lib.sh"
applies=${APPLIES:-20}
mode=${MODE:-both} # web: nginx changes only; app: PHP-FPM changes only; both: alternate
require wrk wrk
build_trio
new_stack; stack=$STACK
sed -i 's/^  root: public$/  root: public\n  static: {max_age: 1m}/' "$stack/trio.yaml"
trio up -C "$stack"
url=$(stack_url "$stack")
out=$(mktemp)
# KEEPALIVE=0 sends Connection: close, a new connection per request.
headers=()
[[ ${KEEPALIVE:-1} == 0 ]] && headers=(-H "Connection: close")
wrk -t2 -c16 -d600s --latency "${headers[@]}" "$url" >"$out" 2>&1 &
wrkpid=$!
sleep 2
for i in $(seq "$applies"); do
  if [[ $mode == web ]] || { [[ $mode == both ]] && (( i % 2 )); }; then
    sed -i "s/max_age: [0-9]*m/max_age: $((i + 1))m/" "$stack/trio.yaml"
  else
    sed -i "s/APP_ENV: [a-z0-9-]*/APP_ENV: production-$i/" "$stack/trio.yaml"
  fi
  "$TRIO" apply -C "$stack" 2>/dev/null | grep -E '^(reload|restart)' || { echo "apply $i changed nothing" >&2; exit 1; }
done
sleep 2
kill -INT "$wrkpid"; wait "$wrkpid" || true
echo "--- wrk during $applies applies"
cat "$out"
requests=$(awk '/requests in/ {print $1}' "$out")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); non2xx=${non2xx:-0}
sockerr=$(awk '/Socket errors/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i} END {print s + 0}' "$out")
echo "mode=$mode keepalive=${KEEPALIVE:-1} applies=$applies requests=$requests non_2xx=$non2xx socket_errors=$sockerr failed=$((non2xx + sockerr))"
