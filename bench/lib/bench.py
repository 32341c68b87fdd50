#!/usr/bin/env python3
"""bench/run's driver: lambda-pause against Bolt for Python, Bolt for JavaScript and a bare axum
server, one after another on this machine, loopback only. See bench/README.md.

Called by bench/run after it has built the binaries and installed the peers; it can be re-run on
its own (python3 bench/lib/bench.py) once those exist. Writes target/bench/results.json and
target/bench/performance.md, prints the table.
"""

import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "target", "bench")
LOGS = os.path.join(OUT, "logs")
RELEASE = os.environ.get("BENCH_RELEASE_DIR") or os.path.join(ROOT, "target", "release")
BIN = os.path.join(RELEASE, "lambda-pause")
EXAMPLES = os.path.join(RELEASE, "examples")
LUA = os.path.join(ROOT, "bench", "wrk", "replay.lua")
VENV = os.path.join(OUT, "venv-bolt-python")
NODE_MODULES = os.path.join(OUT, "bolt-js", "node_modules")
FIXTURE = os.path.join(ROOT, "bench", "fixtures", "status_ack.json")

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0", "false", "no")


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v else default


def env_float(name, default):
    v = os.environ.get(name)
    return float(v) if v else default


CFG = {
    "quick": QUICK,
    "connections": env_int("BENCH_CONNECTIONS", 50),
    "throughput_runs": env_int("BENCH_RUNS", 2 if QUICK else 3),
    "throughput_secs": env_int("BENCH_SECS", 3 if QUICK else 8),
    "warmup_secs": 1 if QUICK else 2,
    "rate": env_int("BENCH_RATE", 500),
    "rate_connections": env_int("BENCH_RATE_CONNECTIONS", 50),
    "rate_runs": env_int("BENCH_RUNS", 2 if QUICK else 3),
    "rate_secs": env_int("BENCH_RATE_SECS", 4 if QUICK else 8),
    "start_trials": env_int("BENCH_START_TRIALS", 3 if QUICK else 5),
    "python_probe_secs": 2 if QUICK else 4,
    "settle_n": env_int("BENCH_SETTLE_N", 50 if QUICK else 200),
    "settle_budget": env_float("BENCH_SETTLE_BUDGET", 20.0 if QUICK else 10.0),
    "budget": env_float("BENCH_BUDGET", 5.0),
}
PEERS_WANTED = [p for p in os.environ.get("BENCH_PEERS", "lambda-pause,bare-axum,bolt-js,bolt-python").split(",") if p]

SECRET = "bench-signing-secret-%d" % int(time.time())
TOKEN = "xoxb-bench"


# ----- machine ----------------------------------------------------------------------------------


def cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


CPUS = cpus()
TASKSET = shutil.which("taskset") and len(CPUS) >= 2
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", str(CPUS[0]))
LOADGEN_CPU = os.environ.get("BENCH_LOADGEN_CPU", str(CPUS[1] if len(CPUS) > 1 else CPUS[0]))


def pinned(cpu, cmd):
    return (["taskset", "-c", cpu] + cmd) if TASKSET else cmd


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, shell=isinstance(cmd, str)).stdout.strip()
    except Exception:
        return ""


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB" % (kb / 1024 / 1024)
    except OSError:
        pass
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": os_name,
        "kernel": platform.release(),
        "rustc": sh(["rustc", "--version"]),
        "node": sh(["node", "--version"]),
        "python": sh([os.path.join(VENV, "bin", "python"), "--version"]) or sh(["python3", "--version"]),
        "wrk": sh("wrk --version 2>&1 | head -1"),
        "pinning": ("server on CPU %s, load generator (and sink, simulator) on CPU %s" % (SERVER_CPU, LOADGEN_CPU))
        if TASKSET
        else "no pinning (taskset missing or a single CPU)",
    }


# ----- processes --------------------------------------------------------------------------------


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
            kids.setdefault(ppid, []).append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def tree(pid):
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid, field="VmRSS"):
    """Sum over the process and all its descendants (gunicorn/uvicorn workers), in MB (10^6 bytes)."""
    pids = tree(pid)
    # taskset execs the server, so the pid is the server's own.
    return sum(status_kb(p, field) for p in pids) * 1024 / 1e6, len(pids)


def cpu_seconds(pid):
    """User + system CPU time of the process and its descendants so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


class Server:
    def __init__(self, name, cmd, env, port, log):
        self.name, self.cmd, self.env, self.port = name, cmd, env, port
        self.log_path = log
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, self.cmd), env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
        return t0

    def stop(self):
        if self.proc is None:
            return
        pids = tree(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)
        # Workers that outlived their parent.
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc = None
        self.log.close()


class Helper:
    """A helper process that prints `listening on ADDR` first (sink, simulator)."""

    def __init__(self, name, cmd):
        self.name = name
        log = open(os.path.join(LOGS, name + ".log"), "ab")
        self.proc = subprocess.Popen(pinned(LOADGEN_CPU, cmd), stdout=subprocess.PIPE, stderr=log, cwd=ROOT, start_new_session=True)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            raise SystemExit("%s did not start: %r" % (name, line))
        self.addr = line[len("listening on ") :]
        self.extra = []

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except Exception:
            pass


# ----- signed requests --------------------------------------------------------------------------


class Requests:
    """Slash commands `/lambda status orders-fn` as Slack sends them, each distinct (trigger_id and
    response_url carry a counter), signed with SECRET at generation time."""

    def __init__(self, sink_port):
        self.sink_port = sink_port
        self.key = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
        self.batch = 0

    def bodies(self, n, text="status+orders-fn"):
        self.batch += 1
        tag = "r%d" % self.batch
        prefix = (
            "token=legacy-verification-token&team_id=T0001&team_domain=example&channel_id=C0INCIDENT"
            "&channel_name=incidents&user_id=U0BENCH&user_name=bench&command=%2Flambda&text=" + text + "&api_app_id=A0LAMBDA"
            "&is_enterprise_install=false&response_url=http%3A%2F%2F127.0.0.1%3A" + str(self.sink_port) + "%2Frespond%2F" + tag + "-"
        )
        for i in range(n):
            yield ("%s%d&trigger_id=13345224609.%d.%s" % (prefix, i, i, tag)).encode()

    def raw(self, body, ts, port, close=False):
        mac = self.key.copy()
        mac.update(b"v0:" + ts + b":" + body)
        return b"".join(
            [
                b"POST /slack/commands HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port,
                b"User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\nAccept: application/json,*/*\r\n",
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body),
                b"X-Slack-Request-Timestamp: " + ts + b"\r\nX-Slack-Signature: v0=" + mac.hexdigest().encode() + b"\r\n",
                b"Connection: close\r\n" if close else b"",
                b"\r\n",
                body,
            ]
        )

    def write(self, path, n, port):
        ts = str(int(time.time())).encode()
        with open(path, "wb") as f:
            chunk = []
            for body in self.bodies(n):
                # Each request after its length, as 8 decimal digits (bench/wrk/replay.lua reads
                # them one at a time: a file of millions of requests never sits in wrk's memory).
                raw = self.raw(body, ts, port)
                chunk.append(b"%08d" % len(raw))
                chunk.append(raw)
                if len(chunk) >= 20000:
                    f.write(b"".join(chunk))
                    chunk = []
            f.write(b"".join(chunk))
        return path

    def one(self, port):
        body = next(self.bodies(1))
        return self.raw(body, str(int(time.time())).encode(), port, close=True)


def http_once(port, raw, timeout=2.0):
    """Sends one raw request; returns (status, body) or None if the connection failed."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return None
    try:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        if not m:
            return None
        if b"transfer-encoding: chunked" in head.lower():
            body = dechunk(body)
        return int(m.group(1)), body
    except OSError:
        return None
    finally:
        s.close()


def dechunk(body):
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return out


def first_200(port, reqs, t0, limit=60.0):
    """Polls with fresh signed commands until one gets 200; returns (seconds since t0, body)."""
    while time.perf_counter() - t0 < limit:
        r = http_once(port, reqs.one(port))
        if r and r[0] == 200:
            return time.perf_counter() - t0, r[1]
        time.sleep(0.001 if r is None else 0.005)
    raise SystemExit("no 200 from port %d within %.0f s" % (port, limit))


# ----- the load generator -----------------------------------------------------------------------


def wrk(port, reqfile, secs, conns, delay_ms=0, label=""):
    result = os.path.join(OUT, "tmp", "wrk-result.json")
    if os.path.exists(result):
        os.remove(result)
    env = dict(os.environ, BENCH_RESULT_FILE=result, BENCH_THREADS="1", BENCH_DELAY_MS=str(delay_ms))
    cmd = pinned(
        LOADGEN_CPU,
        ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "5s", "-s", LUA, "http://127.0.0.1:%d/slack/commands" % port, "--", reqfile],
    )
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=secs + 120)
    with open(os.path.join(LOGS, "wrk.log"), "a") as f:
        f.write("### %s\n%s\n%s\n" % (label, out.stdout, out.stderr))
    if out.returncode != 0 or not os.path.exists(result):
        raise SystemExit("wrk failed (%s): %s %s" % (label, out.stdout[-500:], out.stderr[-500:]))
    with open(result) as f:
        r = json.load(f)
    secs_run = r["duration_us"] / 1e6
    e = r["errors"]
    return {
        "rps": r["requests"] / secs_run if secs_run else 0.0,
        "requests": r["requests"],
        "non_2xx": e["status"],
        "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
        "p50_ms": r["latency_us"]["p50"] / 1000,
        "p90_ms": r["latency_us"]["p90"] / 1000,
        "p99_ms": r["latency_us"]["p99"] / 1000,
        "max_ms": r["latency_us"]["max"] / 1000,
    }


def sink_stats(sink):
    with urllib.request.urlopen("http://%s/stats" % sink.addr, timeout=5) as r:
        return json.load(r)


# ----- peers ------------------------------------------------------------------------------------


def peer_servers(tmp, sink, sim, reply_file):
    """name → (label, factory(port) → Server) for each peer and setup."""
    common = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": "http://%s/api/" % sink.addr, "BENCH_REPLY_FILE": reply_file}
    counter = [0]

    def ours(port):
        counter[0] += 1
        db = os.path.join(tmp, "bench-%d.db" % counter[0])
        env = dict(common)
        env.update(
            {
                "AWS_ENDPOINT_URL": sim.addr,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "AKIDBENCH",
                "AWS_SECRET_ACCESS_KEY": "bench-secret",
                "AWS_EC2_METADATA_DISABLED": "true",
                "LAMBDA_PAUSE_AWS_CALLS_PER_SECOND": str(CFG["budget"]),
            }
        )
        for k in ("LAMBDA_PAUSE_CONFIG", "LAMBDA_PAUSE_LISTEN", "LAMBDA_PAUSE_DB", "RUST_LOG", "AWS_PROFILE"):
            env.pop(k, None)
        return Server("lambda-pause", [BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--db", "sqlite://" + db], env, port, os.path.join(LOGS, "lambda-pause.log"))

    def bare(port):
        return Server("bare-axum", [os.path.join(EXAMPLES, "bare_axum"), "--listen", "127.0.0.1:%d" % port], common, port, os.path.join(LOGS, "bare-axum.log"))

    def js(port):
        env = dict(common, PORT=str(port), HOST="127.0.0.1", NODE_PATH=NODE_MODULES, NODE_ENV="production")
        return Server("bolt-js", ["node", os.path.join(ROOT, "bench", "bolt-js", "app.js")], env, port, os.path.join(LOGS, "bolt-js.log"))

    py_dir = os.path.join(ROOT, "bench", "bolt-python")
    vbin = os.path.join(VENV, "bin")

    def uvicorn(workers):
        def make(port):
            cmd = [os.path.join(vbin, "uvicorn"), "app:api", "--app-dir", py_dir, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
            cmd += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
            return Server("bolt-python", cmd, dict(common, BOLT_MODE="async"), port, os.path.join(LOGS, "bolt-python.log"))

        return make

    def gunicorn_uvicorn(workers):
        def make(port):
            cmd = [os.path.join(vbin, "gunicorn"), "app:api", "--chdir", py_dir, "-b", "127.0.0.1:%d" % port, "-w", str(workers), "-k", "uvicorn_worker.UvicornWorker", "--log-level", "warning"]
            return Server("bolt-python", cmd, dict(common, BOLT_MODE="async"), port, os.path.join(LOGS, "bolt-python.log"))

        return make

    def gunicorn_gthread(workers, threads):
        def make(port):
            cmd = [os.path.join(vbin, "gunicorn"), "app:wsgi", "--chdir", py_dir, "-b", "127.0.0.1:%d" % port, "-w", str(workers), "--threads", str(threads), "-k", "gthread", "--log-level", "warning"]
            return Server("bolt-python", cmd, dict(common, BOLT_MODE="sync"), port, os.path.join(LOGS, "bolt-python.log"))

        return make

    python_setups = [
        ("uvicorn (uvloop, httptools), 2 workers, AsyncApp via ASGI", uvicorn(2)),
        ("uvicorn (uvloop, httptools), 1 worker, AsyncApp via ASGI", uvicorn(1)),
        ("gunicorn + uvicorn workers, 2 workers, AsyncApp via ASGI", gunicorn_uvicorn(2)),
        ("gunicorn gthread, 2 workers x 4 threads, App via WSGI", gunicorn_gthread(2, 4)),
    ]
    return {
        "lambda-pause": [("lambda-pause serve (SQLite store, no policy, against the simulator)", ours)],
        "bare-axum": [("axum: verify the v0 signature, fixed reply (examples/bare_axum.rs)", bare)],
        "bolt-js": [("@slack/bolt, HTTPReceiver, one Node process", js)],
        "bolt-python": python_setups,
    }


def start_ready(factory, reqs):
    port = free_port()
    server = factory(port)
    t0 = server.start()
    took, body = first_200(port, reqs, t0)
    return server, port, took, body


def startup_trials(factory, reqs, n):
    times = []
    for _ in range(n):
        server, _, took, _ = start_ready(factory, reqs)
        times.append(took * 1000)
        server.stop()
        time.sleep(0.2)
    return times


def measure(name, label, factory, reqs, sink, reply_capture=None):
    print("\n== %s: %s" % (name, label), flush=True)
    res = {"setup": label}
    times = startup_trials(factory, reqs, CFG["start_trials"])
    res["start_to_first_200_ms"] = {"runs": times, "median": statistics.median(times)}
    print("   start → first 200: %s ms" % ", ".join("%.0f" % t for t in times), flush=True)

    server, port, _, first_body = start_ready(factory, reqs)
    try:
        time.sleep(1.0)
        idle, nproc = rss_mb(server.proc.pid)
        res["processes"] = nproc
        res["idle_rss_mb"] = idle
        before = sink_stats(sink)
        reqfile = os.path.join(OUT, "tmp", "requests.bin")
        conns = CFG["connections"]

        warm = wrk(port, reqs.write(reqfile, 150_000, port), CFG["warmup_secs"], conns, label=name + " warmup")
        print("   warm-up: %.0f req/s" % warm["rps"], flush=True)
        # The ack the peers must reproduce: lambda-pause's most frequent one after the warm-up
        # (it answers a status from a recent listing when it has one, else "Checking…").
        acks = {}
        for _ in range(25):
            r = http_once(port, reqs.one(port))
            if r and r[0] == 200:
                acks[r[1]] = acks.get(r[1], 0) + 1
            time.sleep(0.02)
        body = max(acks, key=acks.get) if acks else None
        res["ack_body"] = body.decode(errors="replace") if body else None
        res["distinct_acks"] = len(acks)
        kinds = {}
        for b, count in acks.items():
            try:
                text = json.loads(b).get("text", "")[:60]
            except ValueError:
                text = b[:60].decode(errors="replace")
            kinds[text] = kinds.get(text, 0) + count
        res["ack_kinds_after_warmup"] = kinds
        if reply_capture is not None and body:
            reply_capture(body)

        runs = []
        best = max(warm["rps"], 1000)
        for k in range(CFG["throughput_runs"]):
            n = int(best * CFG["throughput_secs"] * 2.5) + 20_000
            reqs.write(reqfile, n, port)
            cpu0 = cpu_seconds(server.proc.pid)
            run = wrk(port, reqfile, CFG["throughput_secs"], conns, label="%s throughput %d" % (name, k))
            if run["requests"] + conns >= n:
                # The file ran out and wrk started over: replays. Once more with a larger file.
                print("   (run %d used up its %d requests; again with more)" % (k + 1, n), flush=True)
                n = int(run["rps"] * CFG["throughput_secs"] * 3) + 20_000
                reqs.write(reqfile, n, port)
                cpu0 = cpu_seconds(server.proc.pid)
                run = wrk(port, reqfile, CFG["throughput_secs"], conns, label="%s throughput %d again" % (name, k))
            run["server_cpu_s"] = cpu_seconds(server.proc.pid) - cpu0
            run["cpu_us_per_request"] = run["server_cpu_s"] * 1e6 / run["requests"] if run["requests"] else None
            run["requests_generated"] = n
            best = max(best, run["rps"])
            runs.append(run)
            print(
                "   throughput run %d: %.0f req/s, %.1f µs of server CPU per request, non-2xx %d, socket errors %d"
                % (k + 1, run["rps"], run["cpu_us_per_request"] or 0, run["non_2xx"], run["socket_errors"]),
                flush=True,
            )
        res["throughput"] = {
            "runs": runs,
            "median_rps": statistics.median(r["rps"] for r in runs),
            "median_cpu_us_per_request": statistics.median(r["cpu_us_per_request"] or 0 for r in runs),
        }
        res["rss_after_load_mb"] = rss_mb(server.proc.pid)[0]
        res["peak_rss_mb"] = rss_mb(server.proc.pid, "VmHWM")[0]

        rate, rconns = CFG["rate"], CFG["rate_connections"]
        delay_ms = 1000.0 * rconns / rate
        rruns = []
        for k in range(CFG["rate_runs"]):
            n = int(rate * CFG["rate_secs"] * 1.5) + 2000
            run = wrk(port, reqs.write(reqfile, n, port), CFG["rate_secs"], rconns, delay_ms=delay_ms, label="%s rate %d" % (name, k))
            rruns.append(run)
            print(
                "   fixed rate run %d: %.0f req/s achieved, p50 %.2f ms, p99 %.2f ms, non-2xx %d"
                % (k + 1, run["rps"], run["p50_ms"], run["p99_ms"], run["non_2xx"]),
                flush=True,
            )
        res["fixed_rate"] = {
            "target_rps": rate,
            "connections": rconns,
            "runs": rruns,
            "median_achieved_rps": statistics.median(r["rps"] for r in rruns),
            "median_p50_ms": statistics.median(r["p50_ms"] for r in rruns),
            "median_p99_ms": statistics.median(r["p99_ms"] for r in rruns),
        }
        res["rss_after_all_mb"] = rss_mb(server.proc.pid)[0]
        time.sleep(1.0)
        after = sink_stats(sink)
        res["sink"] = {
            "response_url_posts": after["respond"] - before["respond"],
            "web_api_calls": after["total"] - after["respond"] - (before["total"] - before["respond"]),
        }
        allruns = runs + rruns + [warm]
        res["non_2xx_total"] = sum(r["non_2xx"] for r in runs + rruns)
        res["socket_errors_total"] = sum(r["socket_errors"] for r in runs + rruns)
        res["requests_total"] = sum(r["requests"] for r in allruns)
        print(
            "   idle RSS %.1f MB, after load %.1f MB (%d process%s); sink got %d response_url posts"
            % (res["idle_rss_mb"], res["rss_after_load_mb"], nproc, "" if nproc == 1 else "es", res["sink"]["response_url_posts"]),
            flush=True,
        )
    finally:
        server.stop()
    return res


def probe_python(setups, reqs):
    """The fastest Bolt for Python setup: one short throughput run each."""
    probes = []
    for label, factory in setups:
        server, port, _, _ = start_ready(factory, reqs)
        try:
            reqfile = os.path.join(OUT, "tmp", "requests.bin")
            wrk(port, reqs.write(reqfile, 20_000, port), 1, CFG["connections"], label="probe warmup " + label)
            run = wrk(port, reqs.write(reqfile, 40_000, port), CFG["python_probe_secs"], CFG["connections"], label="probe " + label)
        finally:
            server.stop()
        probes.append({"setup": label, "rps": run["rps"], "non_2xx": run["non_2xx"]})
        print("   probe %-60s %7.0f req/s (non-2xx %d)" % (label, run["rps"], run["non_2xx"]), flush=True)
    ok = [p for p in probes if p["non_2xx"] == 0] or probes
    best = max(ok, key=lambda p: p["rps"])
    return best["setup"], probes


# ----- footprint --------------------------------------------------------------------------------


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            fp = os.path.join(dirpath, f)
            if not os.path.islink(fp):
                try:
                    total += os.path.getsize(fp)
                except OSError:
                    pass
    return total


def footprint():
    out = {"binary_bytes": os.path.getsize(BIN)}
    libs = []
    for line in sh(["ldd", BIN]).splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            real = os.path.realpath(m.group(1))
            libs.append({"lib": m.group(1), "bytes": os.path.getsize(real)})
    out["shared_libraries"] = libs
    out["binary_plus_libs_bytes"] = out["binary_bytes"] + sum(l["bytes"] for l in libs)
    out["migrations"] = "embedded in the binary at compile time (sqlx::migrate!); the runtime stage copies only the binary and an empty /data"
    docker = shutil.which("docker")
    image = None
    reason = "docker is not installed"
    if docker:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode != 0:
            reason = "no Docker daemon reachable here"
        else:
            b = subprocess.run(["docker", "build", "-q", "-t", "lambda-pause-bench", ROOT], capture_output=True, text=True, timeout=900)
            if b.returncode == 0:
                size = sh(["docker", "image", "inspect", "-f", "{{.Size}}", "lambda-pause-bench"])
                image = int(size) if size.isdigit() else None
                reason = None
            else:
                reason = "docker build failed: " + (b.stderr.strip().splitlines() or ["?"])[-1]
    out["docker_image_bytes"] = image
    out["docker_note"] = reason or "built from the Dockerfile"
    out["runtime_contents_note"] = (
        "the Dockerfile's runtime stage is gcr.io/distroless/cc-debian12:nonroot (glibc, libgcc, CA certificates) + the binary + an empty /data; "
        "without Docker the figure is the binary plus the shared libraries it loads (ldd), as distroless/cc provides them"
    )
    # Peers: what each needs on disk besides the OS.
    node = shutil.which("node")
    out["bolt-js"] = {"deps_bytes": du(NODE_MODULES), "runtime_bytes": os.path.getsize(os.path.realpath(node)) if node else 0}
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        # Not installed (BENCH_PEERS left it out): nothing to measure.
        return out
    site = os.path.join(VENV, "lib")
    base = sh([os.path.join(VENV, "bin", "python"), "-c", "import sys,sysconfig;print(sysconfig.get_paths()['stdlib'])"])
    pyexe = os.path.realpath(os.path.join(VENV, "bin", "python"))
    stdlib = (du(base) - du(os.path.join(base, "site-packages"))) if base else 0
    out["bolt-python"] = {"deps_bytes": du(site), "runtime_bytes": stdlib + os.path.getsize(pyexe)}
    return out


# ----- flow costs -------------------------------------------------------------------------------


def flow_costs():
    path = os.path.join(OUT, "flow_costs.json")
    cmd = [os.path.join(EXAMPLES, "flow_costs"), "--out", path, "--budget", str(CFG["budget"])]
    cmd += ["--settle-n", str(CFG["settle_n"]), "--settle-budget", str(CFG["settle_budget"])]
    if QUICK:
        cmd.append("--quick")
    print("\n== flow costs against the simulator: %s" % " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd), flush=True)
    with open(os.path.join(LOGS, "flow_costs.log"), "ab") as log:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT, timeout=900)
    if r.returncode != 0:
        print("   flow_costs failed (exit %d); see %s" % (r.returncode, os.path.join(LOGS, "flow_costs.log")), flush=True)
        return None
    with open(path) as f:
        return json.load(f)


# ----- report -----------------------------------------------------------------------------------


def fmt_num(v, unit="", digits=0):
    if v is None:
        return "—"
    if digits == 0:
        return "{:,.0f}{}".format(v, unit)
    return "{:,.{d}f}{}".format(v, unit, d=digits)


def ratio(peer, ours):
    if peer is None or ours in (None, 0):
        return ""
    return " (%s× ours)" % (("%.2f" % (peer / ours)) if peer / ours < 10 else ("%.0f" % (peer / ours)))


def table(results, fp, flow):
    order = [p for p in ("lambda-pause", "bare-axum", "bolt-js", "bolt-python") if p in results]
    ours = results.get("lambda-pause", {})
    rate = CFG["rate"]

    def get(p, *keys):
        v = results.get(p)
        for k in keys:
            if v is None:
                return None
            v = v.get(k) if isinstance(v, dict) else None
        return v

    rows = [
        ("Throughput @%d conns (req/s, median of %d)" % (CFG["connections"], CFG["throughput_runs"]), ("throughput", "median_rps"), 0, ""),
        ("Server CPU per request (µs, median)", ("throughput", "median_cpu_us_per_request"), 1, ""),
        ("Ack p50 @%d req/s (ms)" % rate, ("fixed_rate", "median_p50_ms"), 2, ""),
        ("Ack p99 @%d req/s (ms)" % rate, ("fixed_rate", "median_p99_ms"), 2, ""),
        ("Idle RSS (MB)", ("idle_rss_mb",), 1, ""),
        ("RSS after load (MB)", ("rss_after_load_mb",), 1, ""),
        ("Start → first 200 (ms, median of %d)" % CFG["start_trials"], ("start_to_first_200_ms", "median"), 0, ""),
    ]
    head = ["figure"] + order
    lines = []
    for title, keys, digits, unit in rows:
        base = get("lambda-pause", *keys)
        cells = [title]
        for p in order:
            v = get(p, *keys)
            cells.append(fmt_num(v, unit, digits) + ("" if p == "lambda-pause" else ratio(v, base)))
        lines.append(cells)
    lines.append(["response_url posts the sink got"] + [fmt_num(get(p, "sink", "response_url_posts")) for p in order])
    lines.append(["Non-2xx / socket errors"] + ["%d / %d" % (get(p, "non_2xx_total") or 0, get(p, "socket_errors_total") or 0) for p in order])
    lines.append(["Processes"] + [str(get(p, "processes") or "—") for p in order])
    disk = []
    for p in order:
        if p == "lambda-pause":
            disk.append("%.1f MB binary; %.1f MB with libs" % (fp["binary_bytes"] / 1e6, fp["binary_plus_libs_bytes"] / 1e6))
        elif p == "bare-axum":
            disk.append("—")
        else:
            d = fp.get(p, {})
            base = fp["binary_plus_libs_bytes"]
            total = d.get("deps_bytes", 0) + d.get("runtime_bytes", 0)
            disk.append("%.1f MB deps; %.0f MB with runtime%s" % (d.get("deps_bytes", 0) / 1e6, total / 1e6, ratio(total, base)))
    lines.append(["On disk"] + disk)
    if fp.get("docker_image_bytes"):
        lines.append(["Docker image"] + ["%.1f MB" % (fp["docker_image_bytes"] / 1e6)] + [""] * (len(order) - 1))

    widths = [max(len(str(l[i])) for l in [head] + lines) for i in range(len(head))]
    out = []
    out.append("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for l in lines:
        out.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(l, widths)) + " |")
    text = "\n".join(out)
    if "bolt-python" in results:
        text += "\n\nbolt-python: %s (fastest of the setups probed)." % results["bolt-python"]["setup"]
    if flow:
        one, twenty, lag, storm = flow["pause_1_mapping"], flow["pause_20_mappings"], flow["flip_to_follow_up"], flow["settle_storm"]
        text += "\n\nOur flow against the simulator (examples/flow_costs.rs):\n"
        text += "| figure | value |\n|---|---|\n"
        text += "| AWS calls per pause, 1 mapping | %d (%s) |\n" % (one["aws_calls_total"], ", ".join("%s %d" % (k, v) for k, v in one["by_operation"].items()))
        text += "| AWS calls per pause, 20 mappings | %d (%s) |\n" % (twenty["aws_calls_total"], ", ".join("%s %d" % (k, v) for k, v in twenty["by_operation"].items()))
        text += "| State flip → follow-up, median / max (%d transition times %s s) | %.0f ms / %.0f ms |\n" % (
            len(lag["samples"]),
            "%g–%g" % (min(x["transition_s"] for x in lag["samples"]), max(x["transition_s"] for x in lag["samples"])),
            lag["median_ms"],
            lag["max_ms"],
        )
        ap = storm["ack_probe"]
        full = ap["while_all_in_flight"]
        text += "| Ack p99 (`/lambda help`, %g/s) while %d settle waits are in flight | %s ms (p50 %s ms; %d probes, %s while all %d were in flight: p99 %s ms) |\n" % (
            ap["rate_per_s"],
            storm["requests"],
            fmt_num(ap["p99_ms"], "", 2),
            fmt_num(ap["p50_ms"], "", 2),
            ap["count"],
            full["count"],
            storm["requests"],
            fmt_num(full["p99_ms"], "", 2),
        )
        text += "| Peak Lambda calls in any 1 s, %d mappings settling at once (budget %g/s) | %d (all AWS calls incl. Kinesis: %d; mean %.1f/s; %d/%d settled in %.0f s) |\n" % (
            storm["requests"],
            storm["budget_calls_per_s"],
            storm["peak_lambda_calls_in_1s"],
            storm["peak_all_aws_calls_in_1s"],
            storm["mean_lambda_calls_per_s"],
            storm["completed"],
            storm["requests"],
            storm["duration_s"],
        )
    return text


def targets(results, flow):
    out = []

    def add(name, ok, detail):
        out.append({"target": name, "pass": ok, "detail": detail})

    ours = results.get("lambda-pause")
    bare = results.get("bare-axum")
    bolts = [results[p] for p in ("bolt-js", "bolt-python") if p in results]
    if ours and bare:
        r = ours["throughput"]["median_rps"] / bare["throughput"]["median_rps"]
        add("throughput ≥ 0.8× bare axum", r >= 0.8, "%.2f× (%.0f vs %.0f req/s)" % (r, ours["throughput"]["median_rps"], bare["throughput"]["median_rps"]))
    if ours and bolts:
        best = max(b["throughput"]["median_rps"] for b in bolts)
        r = ours["throughput"]["median_rps"] / best
        add("throughput ≥ 10× the better Bolt", r >= 10, "%.1f× (better Bolt %.0f req/s)" % (r, best))
        best_p99 = min(b["fixed_rate"]["median_p99_ms"] for b in bolts)
        p99 = ours["fixed_rate"]["median_p99_ms"]
        add("p99 ack @%d req/s ≤ 1/5 of the better peer's" % CFG["rate"], p99 <= best_p99 / 5, "%.2f ms vs %.2f ms (%.1f× lower)" % (p99, best_p99, best_p99 / p99 if p99 else 0))
    if ours:
        add("idle RSS ≤ 15 MB", ours["idle_rss_mb"] <= 15, "%.1f MB" % ours["idle_rss_mb"])
        s = ours["start_to_first_200_ms"]["median"]
        add("start → first 200 ≤ 50 ms", s <= 50, "%.0f ms" % s)
        add("no non-2xx answers", ours["non_2xx_total"] == 0 and ours["socket_errors_total"] == 0, "%d non-2xx, %d socket errors" % (ours["non_2xx_total"], ours["socket_errors_total"]))
    if flow:
        m = flow["flip_to_follow_up"]["median_ms"]
        add("state flip → follow-up ≤ 1.5 s median", m is not None and m <= 1500, "%.0f ms median, %.0f ms max" % (m, flow["flip_to_follow_up"]["max_ms"]))
        s = flow["settle_storm"]
        add(
            "peak AWS call rate ≤ budget (%d settling)" % s["requests"],
            bool(s["within_budget"]),
            "%d Lambda calls in the busiest second, budget %g/s" % (s["peak_lambda_calls_in_1s"], s["budget_calls_per_s"]),
        )
    return out


def main():
    started = time.time()
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(os.path.join(OUT, "tmp"), exist_ok=True)
    for f in os.listdir(LOGS):
        os.remove(os.path.join(LOGS, f))
    info = machine()
    print("bench: %s" % json.dumps(CFG))
    print("machine: %s, %s cores, %s, %s; %s" % (info["cpu"], info["cores"], info["memory"], info["os"], info["pinning"]), flush=True)

    tmp = tempfile.mkdtemp(prefix="lambda-pause-bench-", dir=os.path.join(OUT, "tmp"))
    sink = Helper("sink", [os.path.join(EXAMPLES, "bench_sink"), "--listen", "127.0.0.1:0"])
    sim = Helper("sim", [os.path.join(EXAMPLES, "sim_server"), "--function", "orders-fn", "--mappings", "1"])
    sim.addr = sim.addr if sim.addr.startswith("http") else "http://" + sim.addr
    reqs = Requests(int(sink.addr.rsplit(":", 1)[1]))
    reply_file = os.path.join(OUT, "reply.json")
    shutil.copy(FIXTURE, reply_file)

    def capture(body):
        try:
            json.loads(body)
            with open(reply_file, "wb") as f:
                f.write(body)
        except ValueError:
            pass

    results = {}
    try:
        peers = peer_servers(tmp, sink, sim, reply_file)
        for name in [p for p in ("lambda-pause", "bare-axum", "bolt-js", "bolt-python") if p in PEERS_WANTED]:
            setups = peers[name]
            if name == "bolt-python":
                print("\n== bolt-python: probing setups", flush=True)
                best, probes = probe_python(setups, reqs)
                factory = dict(setups)[best]
                results[name] = measure(name, best, factory, reqs, sink)
                results[name]["probes"] = probes
            else:
                label, factory = setups[0]
                results[name] = measure(name, label, factory, reqs, sink, capture if name == "lambda-pause" else None)
    finally:
        sink.stop()
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for f in ("requests.bin", "wrk-result.json"):
            try:
                os.remove(os.path.join(OUT, "tmp", f))
            except OSError:
                pass

    # Every peer must have answered with lambda-pause's own ack.
    with open(reply_file) as f:
        expected = json.load(f)
    for name, r in results.items():
        try:
            r["same_ack_as_lambda_pause"] = json.loads(r.get("ack_body") or "null") == expected
        except ValueError:
            r["same_ack_as_lambda_pause"] = False

    flow = flow_costs() if "flow" in os.environ.get("BENCH_PARTS", "peers,flow") else None
    fp = footprint()
    tgt = targets(results, flow)
    text = table(results, fp, flow)
    elapsed = time.time() - started
    command = "BENCH_QUICK=1 bench/run" if QUICK else "bench/run"
    doc = {
        "command": command,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "config": CFG,
        "peers": results,
        "footprint": fp,
        "flow_costs": flow,
        "targets": tgt,
        "table_markdown": text,
        "elapsed_s": elapsed,
    }
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(doc, f, indent=2)

    print("\n" + text + "\n")
    for t in tgt:
        print("%s  %-45s %s" % ("PASS" if t["pass"] else "MISS", t["target"], t["detail"]))
    for name, r in results.items():
        if not r.get("same_ack_as_lambda_pause"):
            print("note: %s's ack differs from lambda-pause's: %s" % (name, (r.get("ack_body") or "")[:200]))
    md = "### Performance\n\nMeasured with `%s` on %s (%s cores, %s, %s); %s.\n\n%s\n" % (
        command,
        info["cpu"],
        info["cores"],
        info["memory"],
        info["os"],
        info["pinning"],
        text,
    )
    with open(os.path.join(OUT, "performance.md"), "w") as f:
        f.write(md)
    print("\nwrote %s and %s in %.0f s" % (os.path.join(OUT, "results.json"), os.path.join(OUT, "performance.md"), elapsed))


if __name__ == "__main__":
    main()
