#!/usr/bin/env python3
"""Resident-memory growth of a tutorial server for N live sessions of a 100-byte value.

usage: bench/memory_per_session.py BINARY [N]   (BINARY: target/release/axum-sessions)

Starts BINARY --http on a free port, warms it up with 2,000 sessions, reads VmRSS,
creates N more sessions (each one request /session/set?key=data&value=<100 bytes>,
no cookie, so each makes a new session), reads VmRSS again and prints the growth per
session and the overhead beyond the 100 value bytes.
"""
import http.client, os, re, socket, subprocess, sys, threading, time

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
VALUE = "v" * 100

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))

def make_sessions(port, count, threads=4):
    def work(k):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(k):
            conn.request("GET", f"/session/set?key=data&value={VALUE}")
            r = conn.getresponse(); r.read()
            assert r.status == 200 and r.getheader("Set-Cookie"), r.status
        conn.close()
    ts = [threading.Thread(target=work, args=(count // threads,)) for _ in range(threads)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return (count // threads) * threads

port = free_port()
proc = subprocess.Popen([binary, "--http", "--port", str(port), "--idle-timeout", "3600"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
        except OSError:
            time.sleep(0.1)
    make_sessions(port, 2000)
    time.sleep(0.5)
    before = rss_kib(proc.pid)
    t0 = time.time()
    made = make_sessions(port, n)
    time.sleep(0.5)
    after = rss_kib(proc.pid)
    per = (after - before) * 1024 / made
    print(f"sessions={made} rss_before={before} KiB rss_after={after} KiB "
          f"growth_per_session={per:.0f} B overhead_beyond_value={per - 100:.0f} B "
          f"({time.time() - t0:.1f} s)")
finally:
    proc.terminate(); proc.wait()
