# Shared by the benchmark scripts: build trio, make a throwaway copy of the
# guestbook on free loopback ports, time things, print statistics.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
TRIO=$BENCH_DIR/.bin/trio
STACKS=()

build_trio() {
  (cd "$ROOT" && go build -o "$TRIO" ./cmd/trio)
}

free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % 22000)) # below the ephemeral range (32768+)
    if ! ss -Hltn "sport = :$p" | grep -q .; then echo "$p"; return; fi
  done
}

# new_stack makes a fresh guestbook copy and sets STACK to its directory.
# It runs in this shell (not in $(...)), so the copy is remembered and the
# exit trap stops it and removes it.
new_stack() {
  local dir web db
  dir=$(mktemp -d /tmp/trio-bench-XXXXXX)
  chmod 755 "$dir"
  cp -r "$ROOT/examples/guestbook" "$dir/"
  rm -rf "$dir/guestbook/.trio" "$dir/guestbook/trio.lock"
  web=$(free_port); db=$(free_port)
  sed -i "s/127.0.0.1:8080/127.0.0.1:$web/; s/^  schema: schema.sql/  schema: schema.sql\n  port: $db/" "$dir/guestbook/trio.yaml"
  STACKS+=("$dir")
  STACK="$dir/guestbook"
}

stack_url() { grep -o 'listen: [0-9.:]*' "$1/trio.yaml" | awk '{print "http://" $2 "/"}'; }

cleanup_stacks() {
  local d
  for d in "${STACKS[@]}"; do
    "$TRIO" down --volumes -C "$d/guestbook" >/dev/null 2>&1 || true
    rm -rf "$d"
  done
}
trap cleanup_stacks EXIT

# trio runs the binary quietly, showing its output only if it fails.
trio() {
  local out
  if ! out=$("$TRIO" "$@" 2>&1); then
    echo "trio $*: failed:" >&2
    echo "$out" >&2
    return 1
  fi
}

now_ms() { echo $(( $(date +%s%N) / 1000 )) | awk '{printf "%.1f", $1/1000}'; }

# stats reads milliseconds, one per line, and prints a summary.
stats() {
  sort -n | awk '{a[NR]=$1; s+=$1} END {
    printf "n=%d  min=%.1f  median=%.1f  mean=%.1f  p95=%.1f  max=%.1f  (ms)\n",
      NR, a[1], a[int((NR+1)/2)], s/NR, a[int(NR*0.95+0.5)], a[NR] }'
}

require() {
  local tool=$1 pkg=$2
  if ! command -v "$tool" >/dev/null; then
    echo "installing $pkg for this benchmark" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >/dev/null
  fi
}
