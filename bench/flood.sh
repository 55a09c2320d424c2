#!/usr/bin/env bash
# A client floods the guestbook page at 10x its rate limit while a second
# client from another address asks politely; the figure is the polite
# client's success rate (target: >= 99%).
source "$(dirname "$0")/lib.sh"
limit=${LIMIT:-20}
build_trio
new_stack; stack=$STACK
printf 'lb: {}\nlimits: {rate: %d, burst: %d}\n' "$limit" "$limit" >>"$stack/trio.yaml"
trio up -C "$stack"
url=$(stack_url "$stack")
(cd "$ROOT" && go run ./bench/cmd/edgeload -url "$url" -flood-rate $((limit * 10)) -polite-rate 5 -d "${DURATION:-20s}")
"$TRIO" status -C "$stack" | grep '^edge'
