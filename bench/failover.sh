#!/usr/bin/env bash
# MariaDB failover: kill -9 the primary 10 times under a writer that commits
# through the write endpoint; time from the kill to the first successful
# write (target: under 5 s) and acknowledged writes lost (target: 0).
# Then replication lag under a steady sysbench-like write load.
source "$(dirname "$0")/lib.sh"
build_trio
new_stack; stack=$STACK
sed -i 's/^  migrations: migrations$/  migrations: migrations\n  replicas: 2\n  failover: {min_interval: 1s}/' "$stack/trio.yaml"
trio up -C "$stack"
port=$(grep -o '^  port: [0-9]*' "$stack/trio.yaml" | awk '{print $2}')
cd "$ROOT"
go run ./bench/cmd/dbbench -trio "$TRIO" -C "$stack" -port "$port" -mode failover -runs "${RUNS:-10}"
go run ./bench/cmd/dbbench -trio "$TRIO" -C "$stack" -port "$port" -mode lag -seconds "${LAG_SECONDS:-30}"
