#!/usr/bin/env bash
# smoke.sh BINARY [ARGS...]: starts a tutorial server (axum-sessions or actix-sessions;
# HTTPS, self-signed) on a free port with ARGS (a store's flags, say) and runs the seed's
# "Try it" curl flow against it, checking each answer, then stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-axum-sessions}
shift || true
echo "-- $bin $*"
cargo build -q -p "$bin"
work=$(mktemp -d)
"./target/debug/$bin" --port 0 --metrics "$@" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$work/out" && break; sleep 0.1; done
base=$(grep -o 'https://[0-9.:]*' "$work/out" | head -1)
[ -n "$base" ] || { echo "server did not start"; cat "$work/err"; exit 1; }
jar="$work/jar.txt"
c() { curl -k -s -c "$jar" -b "$jar" "$@"; }
expect() { # expect WHAT GOT WANT
  if [ "$2" != "$3" ]; then echo "FAIL $1: got $2, want $3"; exit 1; fi
  echo "ok   $1"
}
expect "counter 1" "$(c "$base/session/counter")" '{"message":"Counter incremented","counter":1}'
expect "counter 2" "$(c "$base/session/counter")" '{"message":"Counter incremented","counter":2}'
expect "whoami before login" "$(c -o /dev/null -w '%{http_code}' "$base/session/whoami")" 401
expect "login" "$(c "$base/session/login?user=max")" '{"message":"Logged in","user":"max"}'
expect "whoami" "$(c "$base/session/whoami")" '{"user":"max"}'
expect "set" "$(c "$base/session/set?key=color&value=purple")" '{"message":"Stored in session","key":"color","value":"purple"}'
expect "get" "$(c "$base/session/get?key=color")" '{"key":"color","value":"purple"}'
expect "logout" "$(c "$base/session/logout")" '{"message":"Session cleared"}'
expect "whoami after logout" "$(c -o /dev/null -w '%{http_code}' "$base/session/whoami")" 401
# "log out everywhere": two browsers of one user
expect "sessions before login" "$(c -o /dev/null -w '%{http_code}' "$base/session/sessions")" 401
expect "login again" "$(c "$base/session/login?user=max")" '{"message":"Logged in","user":"max"}'
jar2="$work/jar2.txt"
c2() { curl -k -s -c "$jar2" -b "$jar2" "$@"; }
expect "second browser" "$(c2 "$base/session/login?user=max")" '{"message":"Logged in","user":"max"}'
listed=$(c "$base/session/sessions")
case "$listed" in '{"user":"max","sessions":[{'*'"current":true'*'},{'*) echo "ok   sessions lists both";; *) echo "FAIL sessions: $listed"; exit 1;; esac
expect "logout-others" "$(c "$base/session/logout-others")" '{"message":"Other sessions ended","revoked":1}'
expect "second browser logged out" "$(c2 -o /dev/null -w '%{http_code}' "$base/session/whoami")" 401
expect "first still logged in" "$(c "$base/session/whoami")" '{"user":"max"}'
expect "logout-everywhere" "$(c "$base/session/logout-everywhere")" '{"message":"Logged out everywhere","revoked":1}'
expect "whoami after logout-everywhere" "$(c -o /dev/null -w '%{http_code}' "$base/session/whoami")" 401
expect "hello" "$(curl -k -s "$base/hello")" 'Hello, Session World!'
# --metrics: the flow above shows in /metrics (Prometheus text format)
metrics=$(curl -k -s "$base/metrics")
positive() { # positive NAME: the sample NAME (a full line prefix) has a value above 0
  awk -v name="$1" 'index($0, name) == 1 { if ($NF + 0 > 0) found = 1 } END { exit !found }' <<<"$metrics"
}
for sample in 'session_created_total ' 'session_commits_total{' 'session_loads_total{result="hit"}' 'session_store_call_seconds_count{' 'session_store_call_seconds_bucket{' 'session_ids_cycled_total ' 'session_revoked_total '; do
  if positive "$sample"; then echo "ok   /metrics: $sample"; else echo "FAIL /metrics has no positive $sample"; echo "$metrics" | grep '^session_' | head -40; exit 1; fi
done
cookie=$(curl -k -s -D - -o /dev/null "$base/session/counter" | tr -d '\r' | grep -i '^set-cookie: Kr.Session=')
case "$cookie" in *HttpOnly*SameSite=Lax*Secure*Path=/*) echo "ok   cookie attributes";; *) echo "FAIL cookie: $cookie"; exit 1;; esac
kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then echo "FAIL: did not stop on SIGTERM"; exit 1; fi
echo "ok   stops on SIGTERM"
# a signal sent as soon as the URL line is out must stop it cleanly (exit 0), not kill it
for _ in $(seq 30); do
  coproc early { exec "./target/debug/$bin" --port 0 --http 2>"$work/early.err"; }
  early_pid=$early_PID   # (bash unsets early_PID once the coprocess has exited)
  if ! read -r -t 20 _ <&"${early[0]}"; then
    echo "FAIL: no URL line within 20 s"; cat "$work/early.err"; kill "$early_pid" 2>/dev/null; exit 1
  fi
  kill -TERM "$early_pid"
  for _ in $(seq 100); do kill -0 "$early_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$early_pid" 2>/dev/null; then
    echo "FAIL: did not stop within 10 s of a SIGTERM right after start-up"; kill -9 "$early_pid"; exit 1
  fi
  rc=0; wait "$early_pid" || rc=$?
  [ "$rc" = 0 ] || { echo "FAIL: SIGTERM right after start-up: exit $rc"; cat "$work/early.err"; exit 1; }
done
echo "ok   SIGTERM right after start-up stops it cleanly"
