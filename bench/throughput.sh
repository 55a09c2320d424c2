#!/usr/bin/env bash
# Requests per second of the guestbook page through trio's stack (HAProxy
# -> nginx -> PHP-FPM -> MariaDB) against a hand-written minimal nginx +
# PHP-FPM serving the same code from the same database, in the same run,
# alternating A B A B ... (target: trio at least 90% of the minimal one).
source "$(dirname "$0")/lib.sh"
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-15}
require wrk wrk
build_trio
new_stack; stack=$STACK
printf 'lb: {}\n' >>"$stack/trio.yaml"
trio up -C "$stack"
trio_url=$(stack_url "$stack")
# Some rows, so the page does real work.
for i in $(seq 20); do curl -fsS -o /dev/null -d "name=bench$i&message=row $i" "${trio_url}api/entries"; done

# The minimal stack: one nginx and one PHP-FPM pool with as many workers,
# written by hand, talking to trio's MariaDB.
min=$(mktemp -d /tmp/trio-bench-min-XXXXXX); chmod 755 "$min"; STACKS+=("$min")
port=$(free_port)
dbport=$(grep -o 'port: [0-9]*' "$stack/trio.yaml" | awk '{print $2}')
cat >"$min/php-fpm.conf" <<CONF
[global]
pid = $min/fpm.pid
error_log = $min/fpm.log
[www]
user = www-data
group = www-data
listen = $min/fpm.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 5
clear_env = yes
env[DB_HOST] = 127.0.0.1
env[DB_PORT] = $dbport
env[DB_NAME] = guestbook
env[DB_USER] = guestbook
env[DB_PASSWORD] = guestbook-dev-password
CONF
cat >"$min/nginx.conf" <<CONF
worker_processes auto;
pid $min/nginx.pid;
error_log $min/nginx.log;
user www-data;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  server {
    listen 127.0.0.1:$port;
    root $stack/public;
    location / { try_files \$uri @app; }
    location @app {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $stack/index.php;
      fastcgi_pass unix:$min/fpm.sock;
    }
  }
}
CONF
php-fpm8.2 -y "$min/php-fpm.conf"
nginx -c "$min/nginx.conf"
trap 'kill $(cat "$min/nginx.pid") $(cat "$min/fpm.pid") 2>/dev/null; cleanup_stacks' EXIT
sleep 1
min_url="http://127.0.0.1:$port/"
curl -fsS -o /dev/null "$min_url"

rps() { wrk -t2 -c16 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
trio_rps=() min_rps=()
for r in $(seq "$rounds"); do
  trio_rps+=("$(rps "$trio_url")")
  min_rps+=("$(rps "$min_url")")
  echo "round $r: trio ${trio_rps[-1]} req/s, minimal ${min_rps[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
t=$(median "${trio_rps[@]}"); m=$(median "${min_rps[@]}")
awk -v t="$t" -v m="$m" 'BEGIN {printf "median: trio %.0f req/s, minimal %.0f req/s, trio/minimal = %.1f%%\n", t, m, 100*t/m}'
