#!/usr/bin/env python3
"""folderhook against inotifywait|curl and watchman on this machine (issue 8).

Run through bench/run, which installs the peers and builds the binaries. Every process this
script starts is recorded in WORK/pids and stopped at the end (bench/run's trap stops them
too if this script dies). Timing figures are medians of several runs; ratios are taken
within one run (folderhook's figure and the peer's figure measured back to back) and the
median of those ratios is shown, because the machine is shared and noisy.
"""
import argparse
import datetime
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

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import nats_scenario  # noqa: E402  (beside this file)
from loopback import free_port  # noqa: E402
import two_packet_scenario  # noqa: E402
ROOT = os.path.dirname(BENCH)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# processes


class Procs:
    """Every child we start, so that all of them are stopped whatever happens."""

    def __init__(self, work):
        self.work = work
        self.live = []

    def spawn(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.live.append(p)
        with open(os.path.join(self.work, "pids"), "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=10):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(reversed(self.live)):
            self.stop(p)


# How long after `watching` the agent's memory is read again: by then the first index has been
# stored in SQLite (about a second at 100,000 directories).
AFTER_WATCHING_S = 3




def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def read_until(stream, needle, timeout):
    """Reads lines from a pipe until one contains `needle`; returns the monotonic time then."""
    deadline = time.monotonic() + timeout
    for line in stream:
        if needle in line:
            return time.monotonic()
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"never saw {needle!r}")


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# receiver


class Nginx:
    """nginx on loopback answering 200 on /hook and logging '$msec $arg_path' per request."""

    def __init__(self, procs, work):
        self.procs = procs
        self.dir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "hook.log")
        self.url = f"http://127.0.0.1:{self.port}/hook"
        conf = os.path.join(self.dir, "nginx.conf")
        tmp = os.path.join(self.dir, "tmp")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
user root;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  log_format bench '$msec $arg_path';
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{self.port};
    location /hook {{ access_log {self.log} bench; return 200; }}
  }}
}}
""")
        open(self.log, "w").close()
        self.proc = procs.spawn(["nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"],
                                stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start; see " + self.dir + "/error.log")

    def reset(self):
        # nginx appends (O_APPEND): truncating starts a fresh count.
        os.truncate(self.log, 0)

    def entries(self):
        """[(msec, file name)] of the requests logged so far."""
        out = []
        with open(self.log) as f:
            for line in f:
                parts = line.split(" ", 1)
                if len(parts) != 2:
                    continue
                name = parts[1].strip()
                name = name.rsplit("%2F", 1)[-1].rsplit("/", 1)[-1]
                out.append((float(parts[0]), name))
        return out

    def wait_for(self, expected, stall_s, deadline_s):
        """Waits until `expected` requests are logged or none arrives for stall_s seconds."""
        count, offset, last_change = 0, 0, time.monotonic()
        end = time.monotonic() + deadline_s
        while count < expected and time.monotonic() < end:
            with open(self.log, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
            if chunk:
                count += chunk.count(b"\n")
                last_change = time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                break
            time.sleep(0.05)
        return count


# ---------------------------------------------------------------------------------------------
# folderhook


class Folderhook:
    def __init__(self, procs, binary, work, name, folder, url, connections=1, backend=None,
                 log_to_file=True, folder_extra="", pipelining=False):
        self.procs = procs
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "rules.toml")
        self.log = os.path.join(self.dir, "agent.log") if log_to_file else ""
        backend_line = f'backend = "{backend}"\n' if backend else ""
        # Lines for every agent's [delivery] table, from the environment (README, Benchmark:
        # DELIVERY="in_memory = 1000000" for bench/no_request_rows.patch's build).
        delivery_extra = os.environ.get("DELIVERY", "")
        with open(self.config, "w") as f:
            f.write(f"""[agent]
state_dir = "{self.dir}/state"
status_listen = ""
log_file = "{self.log}"
{backend_line}
[delivery]
connections = {connections}
pipelining = {"true" if pipelining else "false"}
{delivery_extra}

[[folder]]
path = "{folder}"
urls = ["{url}"]
interface = "sftp"
{folder_extra}""")
        self.binary = binary
        self.proc = None

    def check(self):
        r = subprocess.run([self.binary, "check", "--config", self.config],
                           capture_output=True, text=True)
        return r.returncode == 0, (r.stdout + r.stderr).strip().splitlines()[-1:] or [""]

    def start(self, timeout=300):
        """Starts the agent; returns seconds until its 'watching' line."""
        t0 = time.monotonic()
        self.proc = self.procs.spawn([self.binary, "run", "--config", self.config],
                                     stderr=subprocess.PIPE if not self.log else subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, text=True)
        if not self.log:
            try:
                t1 = read_until(self.proc.stderr, '"msg":"watching"', timeout)
            except RuntimeError:
                self.proc.wait(5)
                raise RuntimeError(f"folderhook did not start (exit {self.proc.returncode})")
            return t1 - t0
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"folderhook exited {self.proc.returncode}; see {self.log}")
            if os.path.exists(self.log):
                with open(self.log) as f:
                    if '"msg":"watching"' in f.read():
                        return time.monotonic() - t0
            time.sleep(0.005)
        raise RuntimeError("folderhook did not start")

    def stop(self):
        if self.proc is not None:
            self.procs.stop(self.proc, signal.SIGTERM, 60)

    def log_summary(self):
        outcomes, overflow = {}, 0
        if self.log and os.path.exists(self.log):
            with open(self.log, errors="replace") as f:
                for line in f:
                    if '"msg":"delivery"' in line:
                        m = re.search(r'"outcome":"(\w+)"', line)
                        k = m.group(1) if m else "?"
                        outcomes[k] = outcomes.get(k, 0) + 1
                    elif "overflow" in line:
                        overflow += 1
        return outcomes, overflow


# ---------------------------------------------------------------------------------------------
# scenarios


def make_tree(writer, path, n):
    if os.path.isdir(path):
        return
    os.makedirs(path + ".tmp", exist_ok=True)
    subprocess.run([writer, "tree", path + ".tmp", str(n)], check=True, stdout=subprocess.DEVNULL)
    os.rename(path + ".tmp", path)


def startup_folderhook(ctx, tree, backend=None):
    fh = Folderhook(ctx.procs, ctx.folderhook, ctx.work, "fh-start", tree, ctx.nginx.url,
                    backend=backend, log_to_file=False)
    if backend:
        ok, msg = fh.check()
        if not ok:
            log(f"fanotify start-up: folderhook check said: {msg[0]}")
            return None, None, "n/a (backend not available)"
    try:
        secs = fh.start()
    except RuntimeError as e:
        fh.stop()
        return None, None, f"n/a ({e})"
    rss = status_kib(fh.proc.pid, "VmRSS")
    # Memory needed after `watching` counts too: the first index is still being stored then.
    # A few seconds later it is, and the peak (VmHWM) covers everything since the spawn.
    time.sleep(AFTER_WATCHING_S)
    mem = {"rss": rss, "hwm": status_kib(fh.proc.pid, "VmHWM"),
           "rss_after": status_kib(fh.proc.pid, "VmRSS")}
    fh.stop()
    return secs, mem, None


def startup_inotifywait(ctx, tree):
    t0 = time.monotonic()
    p = ctx.procs.spawn(["inotifywait", "-m", "-r", tree], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True)
    t1 = read_until(p.stderr, "Watches established", 300)
    rss = status_kib(p.pid, "VmRSS")
    hwm = status_kib(p.pid, "VmHWM")
    ctx.procs.stop(p)
    return t1 - t0, rss, hwm


def startup_watchman(ctx, tree):
    wdir = os.path.join(ctx.work, "watchman")
    shutil.rmtree(wdir, ignore_errors=True)
    os.makedirs(wdir)
    sock = os.path.join(wdir, "sock")
    common = ["watchman", "-U", sock, "--no-spawn", "--no-local", "--no-pretty"]
    server = ctx.procs.spawn(["watchman", "-f", "-U", sock, "-o", os.path.join(wdir, "log"),
                              "--pidfile", os.path.join(wdir, "pid"), "-n",
                              "--statefile", os.path.join(wdir, "state")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if subprocess.run(common + ["version"], capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    t0 = time.monotonic()
    subprocess.run(common + ["watch", tree], check=True, capture_output=True)
    # A query waits until the crawl is complete (watchman syncs to a cookie first).
    subprocess.run(common + ["--", "query", tree, '{"expression":["name","no-such-file"],'
                             '"fields":["name"]}'], check=True, capture_output=True)
    t1 = time.monotonic()
    rss = status_kib(server.pid, "VmRSS")
    subprocess.run(common + ["shutdown-server"], capture_output=True)
    ctx.procs.stop(server)
    return t1 - t0, rss


def scenario_startup(ctx, n, runs):
    tree = os.path.join(ctx.trees, f"tree-{n}")
    make_tree(ctx.writer, tree, n)
    subprocess.run(["find", tree, "-type", "d"], stdout=subprocess.DEVNULL)  # warm the dcache
    res = {k: [] for k in ("fh", "fh_rss", "fh_hwm", "fh_rss_after", "iw", "iw_rss", "iw_hwm",
                           "wm", "wm_rss", "fan", "fan_rss", "r_iw", "r_wm", "r_rss_iw",
                           "r_rss_wm", "r_hwm_iw", "r_rss_after_iw")}
    fan_note = None
    for i in range(runs):
        fh, fh_mem, _ = startup_folderhook(ctx, tree, backend="inotify")
        iw, iw_rss, iw_hwm = startup_inotifywait(ctx, tree)
        wm, wm_rss = startup_watchman(ctx, tree)
        fan, fan_mem, fan_note = startup_folderhook(ctx, tree, backend="fanotify")
        fh_rss = fh_mem["rss"]
        for k, v in (("fh", fh), ("fh_rss", fh_rss), ("fh_hwm", fh_mem["hwm"]),
                     ("fh_rss_after", fh_mem["rss_after"]), ("iw", iw), ("iw_rss", iw_rss),
                     ("iw_hwm", iw_hwm), ("wm", wm), ("wm_rss", wm_rss), ("fan", fan),
                     ("fan_rss", fan_mem and fan_mem["rss"]), ("r_iw", fh / iw),
                     ("r_wm", fh / wm), ("r_rss_iw", fh_rss / iw_rss),
                     ("r_rss_wm", fh_rss / wm_rss), ("r_hwm_iw", fh_mem["hwm"] / iw_hwm),
                     ("r_rss_after_iw", fh_mem["rss_after"] / iw_rss)):
            res[k].append(v)
        log(f"start-up {n} dirs run {i + 1}: folderhook {fh * 1000:.0f} ms {fh_rss / 1024:.1f} MiB "
            f"(peak {fh_mem['hwm'] / 1024:.1f}, {AFTER_WATCHING_S} s later "
            f"{fh_mem['rss_after'] / 1024:.1f}), "
            f"inotifywait {iw * 1000:.0f} ms {iw_rss / 1024:.1f} MiB (peak {iw_hwm / 1024:.1f}), "
            f"watchman {wm * 1000:.0f} ms {wm_rss / 1024:.1f} MiB, fanotify "
            + (fan_note or f"{fan * 1000:.0f} ms {fan_mem['rss'] / 1024:.1f} MiB"))
    out = {k: median(v) for k, v in res.items()}
    out["fan_note"] = fan_note
    return out


def folder_for(ctx, name):
    """A new folder for one run's files. The files stay until the benchmark ends: right after
    ext4 frees 100,000 inodes, creating files costs 4-5x as much for a while (measured: the
    writer alone made 10,061 and 7,938 files/s into two folders, then 1,963/s right after
    deleting them), which made every run after a deletion a benchmark of ext4."""
    ctx.folder_count = getattr(ctx, "folder_count", 0) + 1
    base = getattr(ctx, "folder_base", None)
    if base:
        # On the tmpfs the files cost memory, and deleting them costs the next run nothing:
        # the previous run's folder goes (a full run makes 1.2 million files).
        for old in [f for f in ctx.folders if f.startswith(base + "/")]:
            shutil.rmtree(old, ignore_errors=True)
            ctx.folders.remove(old)
    path = os.path.join(base or ctx.work, f"{name}-{ctx.folder_count}")
    os.makedirs(path)
    ctx.folders.append(path)
    return path


def perf_supported():
    r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "--", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "<not" not in r.stderr


def throughput_folderhook(ctx, n, connections, pipelining=False):
    folder = folder_for(ctx, "in-burst")
    ctx.nginx.reset()
    fh = Folderhook(ctx.procs, ctx.folderhook, ctx.work, "fh-burst", folder, ctx.nginx.url,
                    connections=connections, pipelining=pipelining)
    fh.start()
    perf = None
    if ctx.perf:
        perf_out = os.path.join(fh.dir, "perf.txt")
        perf = ctx.procs.spawn(["perf", "stat", "-x,", "-e", "instructions", "-o", perf_out,
                                "-p", str(fh.proc.pid)], stderr=subprocess.DEVNULL)
    cpu0 = cpu_seconds(fh.proc.pid)
    w = subprocess.run([ctx.writer, "burst", folder, str(n)], check=True, capture_output=True,
                       text=True).stdout
    start = float(re.search(r"start (\S+)", w).group(1))
    got = ctx.nginx.wait_for(n, stall_s=20, deadline_s=600)
    cpu = cpu_seconds(fh.proc.pid) - cpu0
    peak = status_kib(fh.proc.pid, "VmHWM")
    instructions = None
    if perf:
        ctx.procs.stop(perf, signal.SIGINT)
        with open(perf_out) as f:
            m = re.search(r"^(\d+),", f.read(), re.M)
            instructions = int(m.group(1)) if m else None
    entries = ctx.nginx.entries()
    fh.stop()
    outcomes, overflow = fh.log_summary()
    names = {name for _, name in entries}
    last = max(t for t, _ in entries) if entries else start
    return {"rate": len(entries) / (last - start) if entries else 0, "received": len(names),
            "requests": len(entries), "written": n, "cpu_per": cpu / max(1, len(entries)),
            "peak_rss": peak, "instr_per": instructions / len(entries) if instructions and entries else None,
            "outcomes": outcomes, "overflow": overflow, "seconds": last - start}


def throughput_pipeline(ctx, n):
    """The shell pipeline people write: inotifywait -m -r | while read; do curl; done."""
    folder = folder_for(ctx, "in-pipe")
    ctx.nginx.reset()
    iw = ctx.procs.spawn(["inotifywait", "-m", "-r", "-e", "close_write", "--format", "%w%f",
                          folder], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    read_until(iw.stderr, "Watches established", 60)
    loop = ctx.procs.spawn(["bash", "-c", 'while IFS= read -r f; do curl -s -o /dev/null -G '
                            '--data-urlencode "path=$f" "$1"; done', "pipeline", ctx.nginx.url],
                           stdin=iw.stdout)
    iw.stdout.close()
    w = subprocess.run([ctx.writer, "burst", folder, str(n)], check=True, capture_output=True,
                       text=True).stdout
    start = float(re.search(r"start (\S+)", w).group(1))
    got = ctx.nginx.wait_for(n, stall_s=20, deadline_s=600)
    peak = status_kib(iw.pid, "VmHWM")
    # Stop inotifywait: the loop reads EOF and exits, so its rusage includes every curl.
    iw.send_signal(signal.SIGTERM)
    _, _, ru_iw = os.wait4(iw.pid, 0)
    _, _, ru_loop = os.wait4(loop.pid, 0)
    iw.returncode = loop.returncode = 0
    ctx.procs.live.remove(iw)
    ctx.procs.live.remove(loop)
    cpu = ru_iw.ru_utime + ru_iw.ru_stime + ru_loop.ru_utime + ru_loop.ru_stime
    entries = ctx.nginx.entries()
    last = max(t for t, _ in entries) if entries else start
    return {"rate": len(entries) / (last - start) if entries else 0,
            "received": len({nm for _, nm in entries}), "written": n,
            "cpu_per": cpu / max(1, len(entries)), "peak_rss": peak}


def writer_alone(ctx, n):
    """The writer's own rate with no watcher: the most any watcher can deliver from it."""
    folder = folder_for(ctx, "in-alone")
    w = subprocess.run([ctx.writer, "burst", folder, str(n)], check=True, capture_output=True,
                       text=True).stdout
    start = float(re.search(r"start (\S+)", w).group(1))
    last = float(re.search(r"last (\S+)", w).group(1))
    return n / (last - start) if last > start else None


def roundtrip_floor(ctx, n=20_000):
    """The CPU seconds per request of bench/roundtrip.c: one request at a time on one
    connection to the same nginx location, the least a sender that waits for each answer can
    spend on this machine (its sleep and wake-up per request)."""
    path = "hook?path=%2Froundtrip%2Ffloor"
    r = subprocess.run([ctx.roundtrip, str(ctx.nginx.port), path, str(n)], capture_output=True,
                       text=True)
    ctx.nginx.reset()
    m = re.search(r"cpu_us_per_request (\S+)", r.stdout)
    if r.returncode != 0 or not m:
        log(f"roundtrip failed: {(r.stderr or r.stdout).strip()}")
        return None
    return float(m.group(1)) / 1e6


def wrk_ceiling(ctx, connections, seconds):
    r = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                        ctx.nginx.url + "?path=%2Fwrk%2Fceiling"], capture_output=True, text=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    ctx.nginx.reset()
    return float(m.group(1)) if m else None


def scenario_throughput(ctx, n, pipe_n, connections, runs, wrk_seconds, extra_connections=()):
    rows = {k: [] for k in ("fh", "wrk", "pipe", "r_wrk", "r_pipe", "cpu_per", "peak_rss",
                            "instr_per", "pipe_cpu_per", "pipe_rss", "alone", "r_alone",
                            "floor_cpu", "r_floor", "pipelined_cpu")}
    for c in extra_connections:
        rows.update({f"fh{c}": [], f"wrk{c}": [], f"r_wrk{c}": [], f"least{c}": [],
                     f"r_least{c}": []})
    loss = []
    for i in range(runs):
        alone_c = writer_alone(ctx, n) if extra_connections else None
        for c in extra_connections:
            fhc = throughput_folderhook(ctx, n, c)
            wrkc = wrk_ceiling(ctx, c, wrk_seconds)
            loss.append((f"folderhook (connections={c})", fhc["received"], fhc["written"]))
            rows[f"fh{c}"].append(fhc["rate"])
            rows[f"wrk{c}"].append(wrkc)
            rows[f"r_wrk{c}"].append(fhc["rate"] / wrkc if wrkc else None)
            fhc["least"] = min(x for x in (wrkc, alone_c) if x) if (wrkc or alone_c) else None
            rows[f"least{c}"].append(fhc["least"])
            rows[f"r_least{c}"].append(fhc["rate"] / fhc["least"] if fhc["least"] else None)
            log(f"throughput run {i + 1}, connections={c}: folderhook {fhc['rate']:.0f}/s "
                f"({fhc['received']}/{n} received, attempts {fhc['outcomes']}, "
                f"{fhc['cpu_per'] * 1e6:.0f} us CPU each); wrk -c{c} {wrkc or 0:.0f}/s; "
                f"writer alone {alone_c or 0:.0f} files/s")
        alone = writer_alone(ctx, n)
        fh = throughput_folderhook(ctx, n, connections)
        wrk = wrk_ceiling(ctx, connections, wrk_seconds)
        floor = roundtrip_floor(ctx)
        pipelined = throughput_folderhook(ctx, n, connections, pipelining=True)
        pipe = throughput_pipeline(ctx, pipe_n)
        loss.append(("folderhook", fh["received"], fh["written"]))
        loss.append(("folderhook (pipelining = true)", pipelined["received"], pipelined["written"]))
        loss.append(("inotifywait + curl loop", pipe["received"], pipe["written"]))
        for k, v in (("fh", fh["rate"]), ("wrk", wrk), ("pipe", pipe["rate"]),
                     ("r_wrk", fh["rate"] / wrk if wrk else None),
                     ("r_pipe", fh["rate"] / pipe["rate"] if pipe["rate"] else None),
                     ("alone", alone), ("r_alone", fh["rate"] / alone if alone else None),
                     ("cpu_per", fh["cpu_per"]), ("peak_rss", fh["peak_rss"]),
                     ("instr_per", fh["instr_per"]), ("pipe_cpu_per", pipe["cpu_per"]),
                     ("pipe_rss", pipe["peak_rss"]), ("floor_cpu", floor),
                     ("r_floor", fh["cpu_per"] / floor if floor else None),
                     ("pipelined_cpu", pipelined["cpu_per"])):
            rows[k].append(v)
        log(f"throughput run {i + 1}: folderhook {fh['rate']:.0f}/s ({fh['received']}/{n} received, "
            f"{fh['requests']} requests in {fh['seconds']:.1f} s, attempts {fh['outcomes']}, "
            f"overflow lines {fh['overflow']}, {fh['cpu_per'] * 1e6:.0f} us CPU each, "
            f"peak {fh['peak_rss'] / 1024:.1f} MiB); wrk -c{connections} {wrk or 0:.0f}/s; "
            f"inotifywait|curl {pipe['rate']:.0f}/s ({pipe['received']}/{pipe_n}); "
            f"writer alone {alone or 0:.0f} files/s; roundtrip.c "
            f"{(floor or 0) * 1e6:.0f} us CPU a request; with pipelining = true "
            f"{pipelined['rate']:.0f}/s, {pipelined['cpu_per'] * 1e6:.0f} us CPU each")
    out = {k: median(v) for k, v in rows.items()}
    out["loss"] = loss
    out["extra"] = list(extra_connections)
    return out


def scenario_throughput_tmpfs(ctx, n, pipe_n, connections, runs, wrk_seconds, extra_connections=()):
    """The throughput scenario with the watched folders on a tmpfs (state_dir, the agent's log and
    nginx's log stay on disk): what the agent costs, with the file system's state out of the way
    (this machine's ext4 is mounted with discard: creates right after a mass delete run several
    times slower for minutes, whichever program makes them)."""
    mount = os.path.join(ctx.work, "tmpfs")
    os.makedirs(mount, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=0755", "folderhook-bench", mount],
                   check=True)
    ctx.folder_base = mount
    try:
        return scenario_throughput(ctx, n, pipe_n, connections, runs, wrk_seconds,
                                   extra_connections)
    finally:
        ctx.folder_base = None
        ctx.folders = [f for f in ctx.folders if not f.startswith(mount + "/")]
        subprocess.run(["umount", "-l", mount], check=False)


def latency_run(ctx, rate, seconds):
    folder = folder_for(ctx, "in-rate")
    ctx.nginx.reset()
    fh = Folderhook(ctx.procs, ctx.folderhook, ctx.work, "fh-rate", folder, ctx.nginx.url)
    fh.start()
    n = int(rate * seconds)
    closes_path = os.path.join(fh.dir, "closes.txt")
    subprocess.run([ctx.writer, "rate", folder, str(n), str(rate), closes_path], check=True)
    ctx.nginx.wait_for(n, stall_s=10, deadline_s=120)
    entries = ctx.nginx.entries()
    fh.stop()
    closes = {}
    with open(closes_path) as f:
        for line in f:
            name, t = line.split()
            closes[name] = float(t)
    first = {}
    for t, name in entries:
        first.setdefault(name, t)
    lat = sorted((first[nm] - closes[nm]) * 1000 for nm in closes if nm in first)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None
    return {"p50": pick(0.50), "p99": pick(0.99), "max": lat[-1] if lat else None,
            "min": lat[0] if lat else None, "received": len(lat), "written": n}


def scenario_latency(ctx, rate, seconds, runs):
    rows = {k: [] for k in ("p50", "p99", "max", "min")}
    loss = []
    for i in range(runs):
        r = latency_run(ctx, rate, seconds)
        loss.append(("folderhook (latency)", r["received"], r["written"]))
        for k in rows:
            rows[k].append(r[k])
        log(f"latency run {i + 1}: min {r['min']:.1f} p50 {r['p50']:.1f} p99 {r['p99']:.1f} "
            f"max {r['max']:.1f} ms ({r['received']}/{r['written']} received)")
    out = {k: median(v) for k, v in rows.items()}
    out["loss"] = loss
    return out


def scenario_rate(ctx, target, seconds, runs):
    """max_per_second = target against nginx with a backlog larger than `seconds` at that rate:
    the rate nginx logged over `seconds` (from 1 s after the first request, past the start's
    one token) against the target, and the most requests logged within any one second."""
    rows = {k: [] for k in ("rate", "r", "busiest")}
    for i in range(runs):
        folder = folder_for(ctx, "in-paced")
        ctx.nginx.reset()
        fh = Folderhook(ctx.procs, ctx.folderhook, ctx.work, "fh-paced", folder, ctx.nginx.url,
                        folder_extra=f"max_per_second = {target}\n")
        fh.start()
        n = int(target * (seconds + 6))
        subprocess.run([ctx.writer, "burst", folder, str(n)], check=True, stdout=subprocess.DEVNULL)
        # Until the measured span is over (the backlog outlasts it).
        ctx.nginx.wait_for(int(target * (seconds + 2)), stall_s=10, deadline_s=seconds * 3)
        fh.stop()
        times = sorted(t for t, _ in ctx.nginx.entries())
        if not times:
            raise RuntimeError("rate: nothing reached nginx")
        start = times[0] + 1.0
        inside = [t for t in times if start <= t < start + seconds]
        rate = len(inside) / seconds
        busiest, j = 0, 0
        for k in range(len(times)):
            while times[k] - times[j] >= 1.0:
                j += 1
            busiest = max(busiest, k - j + 1)
        rows["rate"].append(rate)
        rows["r"].append(rate / target)
        rows["busiest"].append(busiest)
        log(f"rate run {i + 1}: max_per_second = {target}: {rate:.1f}/s over {seconds} s "
            f"({len(inside)} requests), busiest second {busiest}")
    return {k: median(v) for k, v in rows.items()}


# ---------------------------------------------------------------------------------------------
# report


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def fmt(v, unit="", digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}{unit}"


def ratio(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}x"


def verdict(ok):
    return "n/a" if ok is None else ("yes" if ok else "NO")


def scenario_nats(ctx, n, runs):
    rows = {"fh": [], "ceiling": [], "r": [], "alone": [], "r_alone": []}
    loss = []
    for i in range(runs):
        alone = writer_alone(ctx, n)
        r = nats_scenario.nats_run(ctx, n, Folderhook, folder_for)
        rows["alone"].append(alone)
        rows["r_alone"].append(r["rate"] / alone if r["rate"] and alone else None)
        loss.append(("folderhook (JetStream)", r["received"], r["written"]))
        rows["fh"].append(r["rate"])
        rows["ceiling"].append(r["ceiling"])
        rows["r"].append(r["rate"] / r["ceiling"] if r["rate"] and r["ceiling"] else None)
        log(f"jetstream run {i + 1}: folderhook {r['rate'] or 0:.0f}/s ({r['received']}/{n} in the "
            f"stream, attempts {r['outcomes']}); bare nats.c publish loop {r['ceiling'] or 0:.0f}/s "
            f"{r['ceiling_error']}; writer alone {alone or 0:.0f} files/s")
    out = {k: median(vs) for k, vs in rows.items()}
    out["loss"] = loss
    return out


def scenario_two_packet(ctx, n, runs):
    rows = {"fh": [], "peer": [], "r": []}
    loss = []
    for i in range(runs):
        r = two_packet_scenario.two_packet_run(ctx, n, Folderhook, folder_for)
        rows["fh"].append(r["rate"])
        rows["peer"].append(r["peer"])
        rows["r"].append(r["rate"] / r["peer"] if r["rate"] and r["peer"] else None)
        loss.append(("folderhook (two-packet receiver)", r["received"], r["written"]))
        log(f"two-packet run {i + 1}: folderhook {r['rate']:.0f}/s ({r['received']}/{n}); "
            f"http.client keep-alive {r['peer']:.1f}/s")
    out = {k: median(vs) for k, vs in rows.items()}
    out["loss"] = loss
    out["n"] = n
    return out


def throughput_rows(add, tp, n, pipe_n, connections, where):
    """The rows of one throughput scenario (`where` names its folder's file system)."""
    add(f"throughput {n:,} creates{where}, deliveries/s (connections={connections})", fmt(tp["fh"]),
        f"wrk -c{connections} (ceiling)", fmt(tp["wrk"]), ratio(tp["r_wrk"]), ">= 0.80x",
        verdict(tp["r_wrk"] >= 0.8 if tp["r_wrk"] is not None else None))
    add("", "", f"inotifywait + curl loop ({pipe_n:,} files)", fmt(tp["pipe"]), ratio(tp["r_pipe"], 1),
        ">= 100x", verdict(tp["r_pipe"] >= 100 if tp["r_pipe"] is not None else None))
    add("", "", "the writer alone, no watcher (files/s: the most any watcher can deliver)",
        fmt(tp["alone"]), ratio(tp["r_alone"]), "", "")
    for c in tp["extra"]:
        add(f"throughput {n:,} creates{where}, deliveries/s (connections={c})", fmt(tp[f"fh{c}"]),
            f"wrk -c{c} (ceiling)", fmt(tp[f"wrk{c}"]), ratio(tp[f"r_wrk{c}"]), "", "")
        # No watcher can deliver more files than the writer makes: the goal is the lesser of the
        # two ceilings (per run, then the median).
        add("", "", "the lesser of the writer alone and wrk (medians)", fmt(tp[f"least{c}"]),
            ratio(tp[f"r_least{c}"]), ">= 0.80x",
            verdict(tp[f"r_least{c}"] >= 0.8 if tp[f"r_least{c}"] is not None else None))
    add(f"cost: CPU us per delivery (user+sys){where}", fmt(tp["cpu_per"] * 1e6),
        "inotifywait + curl loop", fmt(tp["pipe_cpu_per"] * 1e6),
        ratio(tp["cpu_per"] / tp["pipe_cpu_per"], 3), "<= 50 us",
        verdict(tp["cpu_per"] * 1e6 <= 50))
    # The floor under the figure above: a bare client's sleep and wake-up per request.
    add("", "", "bare client, one request at a time on one connection (bench/roundtrip.c): "
        "its CPU per request", fmt(tp["floor_cpu"] and tp["floor_cpu"] * 1e6),
        ratio(tp["r_floor"]), "", "")
    add(f"cost: CPU us per delivery (user+sys), pipelining = true{where}",
        fmt(tp["pipelined_cpu"] * 1e6), "", "", "", "", "")


def build_table(s10, s100, tp, lat, connections, n, pipe_n, rate, seconds, js=None, paced=None,
                paced_target=0, tw=None, tpt=None):
    rows = []
    add = lambda *r: rows.append(r)
    mib = lambda k: None if k is None else k / 1024
    for label, s, targets in (("10k", s10, False), ("100k", s100, True)):
        if s is None:
            continue
        add(f"start-up {label} dirs, ms", fmt(s["fh"] and s["fh"] * 1000), "inotifywait -m -r",
            fmt(s["iw"] * 1000), ratio(s["r_iw"]), "<= 1.00x" if targets else "",
            verdict(s["r_iw"] <= 1.0) if targets else "")
        add("", "", "watchman watch+query", fmt(s["wm"] * 1000), ratio(s["r_wm"]), "", "")
        add(f"start-up {label} dirs, RSS MiB", fmt(mib(s["fh_rss"]), digits=1), "inotifywait -m -r",
            fmt(mib(s["iw_rss"]), digits=1), ratio(s["r_rss_iw"]), "<= 1.00x" if targets else "",
            verdict(s["r_rss_iw"] <= 1.0) if targets else "")
        add("", "", "watchman", fmt(mib(s["wm_rss"]), digits=1), ratio(s["r_rss_wm"]),
            "well under" if targets else "", verdict(s["r_rss_wm"] <= 0.5) if targets else "")
        add(f"start-up {label} dirs, peak RSS (VmHWM) MiB, {AFTER_WATCHING_S} s after watching",
            fmt(mib(s["fh_hwm"]), digits=1), "inotifywait -m -r", fmt(mib(s["iw_hwm"]), digits=1),
            ratio(s["r_hwm_iw"]), "", "")
        add(f"start-up {label} dirs, RSS MiB {AFTER_WATCHING_S} s after watching",
            fmt(mib(s["fh_rss_after"]), digits=1), "inotifywait -m -r",
            fmt(mib(s["iw_rss"]), digits=1), ratio(s["r_rss_after_iw"]), "", "")
        fan = s["fan_note"] or fmt(s["fan"] and s["fan"] * 1000)
        fan_ok = None if s["fan"] is None else s["fan"] < 0.050
        add(f"start-up {label} dirs, fanotify, ms", fan, "", "", "",
            "< 50 ms" if targets else "", verdict(fan_ok) if targets else "")
        if s["fan"] is not None:
            add(f"start-up {label} dirs, fanotify, RSS MiB", fmt(mib(s["fan_rss"]), digits=1),
                "", "", "", "", "")
    if tp:
        throughput_rows(add, tp, n, pipe_n, connections, "")
    if tpt:
        throughput_rows(add, tpt, n, pipe_n, connections, ", folder on tmpfs")
    if lat:
        add(f"latency close()->nginx at {rate}/s for {seconds} s, p50 ms", fmt(lat["p50"], digits=1),
            "", "", "", "", "")
        add("latency p99 ms", fmt(lat["p99"], digits=1), "", "", "", "< 10 ms",
            verdict(lat["p99"] < 10))
        # A create is named at the writer's close (no settle window on this path): the figures
        # are the whole pipeline, kernel to naming to outbox commit to nginx.
        add("latency max ms", fmt(lat["max"], digits=1), "", "", "", "", "")
    if js:
        met = verdict(js["r"] >= 0.5 if js["r"] is not None else None)
        reach = js["alone"] / js["ceiling"] if js["alone"] and js["ceiling"] else None
        if met == "NO" and reach is not None and reach < 0.5:
            # No watcher can publish more files than the writer makes.
            met = f"NO: out of reach here (the writer alone makes {reach:.2f}x the ceiling)"
        add(f"JetStream: {n:,} creates published into a stream on this machine, messages/s",
            fmt(js["fh"]), "bare nats.c async publish loop (ceiling)", fmt(js["ceiling"]),
            ratio(js["r"]), ">= 0.50x", met)
        add("", "", "the writer alone, no watcher (files/s: the most any watcher can deliver)",
            fmt(js["alone"]), ratio(js["r_alone"]), "", "")
    if tw:
        add(f"two-packet receiver (Python http.server, HTTP/1.1): {tw['n']:,} creates, deliveries/s "
            "(connections=1)", fmt(tw["fh"]), "http.client reusing a connection (the 40 ms stall; "
            "folderhook's rate before)", fmt(tw["peer"], digits=1), ratio(tw["r"], 1), ">= 20x",
            verdict(tw["r"] >= 20 if tw["r"] is not None else None))
    if paced:
        add(f"max_per_second = {paced_target} held over {seconds} s, deliveries/s",
            fmt(paced["rate"], digits=1), "the target", fmt(paced_target), ratio(paced["r"], 3),
            "within 5%", verdict(abs(paced["r"] - 1) <= 0.05))
        add(f"max_per_second = {paced_target}, most requests in any one second",
            fmt(paced["busiest"]), "", "", "", f"<= {paced_target} + burst ({max(1, paced_target // 20)})",
            verdict(paced["busiest"] <= paced_target + max(1, paced_target // 20)))
    loss = (tp["loss"] if tp else []) + (tpt["loss"] if tpt else [])
    loss += (lat["loss"] if lat else []) + (js["loss"] if js else [])
    loss += tw["loss"] if tw else []
    for who in dict.fromkeys(w for w, _, _ in loss):
        got = sum(g for w, g, _ in loss if w == who)
        wrote = sum(x for w, _, x in loss if w == who)
        add(f"loss: received/written, {who}", f"{got:,}/{wrote:,} = {100 * got / wrote:.3f}%",
            "", "", "", "100%", verdict(got == wrote) if who.startswith("folderhook") else "")
    if tp:
        add("cost: instructions per delivery (perf stat)",
            fmt(tp["instr_per"]) if tp["instr_per"] else "n/a (no PMU in this VM)", "", "", "", "", "")
        add(f"cost: peak RSS MiB (after {n:,} deliveries)", fmt(mib(tp["peak_rss"]), digits=1),
            "inotifywait (its part)", fmt(mib(tp["pipe_rss"]), digits=1), "", "", "")
    if tpt:
        # On the tmpfs the writer outruns the agent: the peak holds the burst's backlog.
        add(f"cost: peak RSS MiB (after {n:,} deliveries), folder on tmpfs",
            fmt(mib(tpt["peak_rss"]), digits=1), "inotifywait (its part)",
            fmt(mib(tpt["pipe_rss"]), digits=1), "", "", "")
    head = ("scenario", "folderhook", "peer", "peer's figure", "ratio", "target", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


class Ctx:
    pass


SCENARIOS = ("startup", "throughput", "tmpfs", "latency", "nats", "rate", "twopacket")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, one run each (iterating)")
    ap.add_argument("--folderhook", required=True)
    ap.add_argument("--writer", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--nats-publish", help="bench/nats_publish.c, built (the JetStream ceiling)")
    ap.add_argument("--roundtrip", required=True,
                    help="bench/roundtrip.c, built (the CPU a request costs a bare client)")
    ap.add_argument("--results", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--files", type=int, help="files per throughput run (default 100,000; 10,000 with --quick)")
    a = ap.parse_args()
    quick = a.quick
    runs = 1 if quick else 3
    n = a.files or (10_000 if quick else 100_000)
    pipe_n = 500 if quick else 2_000
    seconds = 5 if quick else 30
    rate = 200
    connections = 1
    only = set(a.only.split(","))

    ctx = Ctx()
    ctx.work = a.work
    ctx.trees = os.path.join(os.path.dirname(a.work), "folderhook-bench-trees")
    os.makedirs(ctx.trees, exist_ok=True)
    ctx.folderhook, ctx.writer = a.folderhook, a.writer
    ctx.nats_publish = a.nats_publish
    ctx.roundtrip = a.roundtrip
    ctx.procs = Procs(a.work)
    ctx.folders = []
    ctx.perf = perf_supported()

    def on_signal(sig, _):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        ctx.nginx = Nginx(ctx.procs, a.work)
        s10 = scenario_startup(ctx, 10_000, runs) if "startup" in only else None
        s100 = scenario_startup(ctx, 100_000, runs) if "startup" in only and not quick else None
        tp = scenario_throughput(ctx, n, pipe_n, connections, runs, 2 if quick else 5,
                                 () if quick else (4,)) if "throughput" in only else None
        tpt = scenario_throughput_tmpfs(ctx, n, pipe_n, connections, runs, 2 if quick else 5,
                                        () if quick else (4,)) if "tmpfs" in only else None
        if tpt:
            tpt["loss"] = [(f"{who}, folder on tmpfs", got, wrote) for who, got, wrote in tpt["loss"]]
        lat = scenario_latency(ctx, rate, seconds, runs) if "latency" in only else None
        js = scenario_nats(ctx, n, runs) if "nats" in only else None
        paced_target = 200
        paced = scenario_rate(ctx, paced_target, seconds, runs) if "rate" in only else None
        tw = scenario_two_packet(ctx, 2_000 if quick else 10_000, runs) if "twopacket" in only else None
    finally:
        ctx.procs.stop_all()
        for folder in ctx.folders:
            shutil.rmtree(folder, ignore_errors=True)

    table = build_table(s10, s100, tp, lat, connections, n, pipe_n, rate, seconds, js, paced,
                        paced_target, tw, tpt)
    print(table)
    kernel = platform.release()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    dirty = " (the checkout held uncommitted changes)" if commit.endswith("-dirty") else ""
    header = (f"# Benchmark results\n\n{date}, built from `{commit}`{dirty}, `nproc` {os.cpu_count()}, "
              f"kernel {kernel}{', --quick' if quick else ''}; {runs} run(s) per figure "
              f"(medians; each ratio is the median of per-run ratios), "
              f"{time.monotonic() - started:.0f} s in all. Produced by `bench/run`; "
              f"see the README's Benchmark section for what each row measures.\n\n")
    # A partial run (--only) prints its rows; it never replaces the whole file's table.
    partial = only != set(SCENARIOS)
    if (not quick and not partial) or a.results != os.path.join(BENCH, "RESULTS.md"):
        with open(a.results, "w") as f:
            f.write(header + table + "\n")
        log(f"wrote {a.results}")


if __name__ == "__main__":
    main()
