#!/usr/bin/env bash
# The test command: installs what the tests need on Debian 12 (as root),
# then runs every test. CI calls exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")"

# The real programs the tests drive, and the tools they compare against.
packages=(nginx php8.2-fpm php8.2-mysql mariadb-server mariadb-client mariadb-backup
          haproxy ansible-core whois wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "test.sh: missing ${missing[*]}; run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

go vet ./...
go test -count=1 -timeout 20m ./...
# The parsers that read untrusted files get a short fuzz run on top of
# their committed corpus.
go test -run '^$' -fuzz '^FuzzDecrypt$' -fuzztime 15s -fuzzminimizetime 3s ./internal/secrets
go test -run '^$' -fuzz '^FuzzParseSecrets$' -fuzztime 15s -fuzzminimizetime 3s ./internal/secrets
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 15s -fuzzminimizetime 3s ./internal/stack
echo "test.sh: all tests passed"
