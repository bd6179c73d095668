#!/usr/bin/python3
"""The relay's scaling row (issue 19): messages/s that one `folderhook relay` and three relays
sharing one durable consumer deliver from a JetStream stream to an HTTP receiver that takes
20 ms per request (each relay holds one connection). Target: three >= 2.5x one.

    python3 bench/relay_bench.py --folderhook build-bench/folderhook \
        --nats-publish build-bench/nats-publish [--messages 1500] [--runs 3]

Starts its own nats-server (a fresh store in a temporary directory) and receiver on free
loopback ports, fills stream CEIL with bench/nats_publish.c (operations as an agent publishes
them), and gives each run a consumer of its own, so that every run reads the whole stream. The
rate is counted from the first request the receiver gets to the last (relay start-up apart)."""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from loopback import free_port, wait_port

DELAY_S = 0.020






class SlowReceiver:
    """HTTP/1.1 keep-alive, one thread per connection, 20 ms before each answer, which is written
    in one piece (no delayed-ACK stall, see NOTES.md)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.times = []
        self.ids = set()
        threading.Thread(target=self.accept, daemon=True).start()

    def reset(self):
        with self.lock:
            self.times, self.ids = [], set()

    def accept(self):
        while True:
            conn, _ = self.sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                webhook_id = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"webhook-id:"):
                        webhook_id = line.split(b":", 1)[1].strip()
                time.sleep(DELAY_S)
                with self.lock:
                    self.times.append(time.monotonic())
                    self.ids.add(webhook_id)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def relay_run(a, work, url, receiver, relays, consumer, n):
    config = os.path.join(work, f"{consumer}.toml")
    with open(config, "w") as f:
        f.write(f'[agent]\nstatus_listen = ""\nlog_file = "{work}/{consumer}.log"\n\n'
                f'[relay]\nsource = "{url}/CEIL"\nconsumer = "{consumer}"\n\n'
                f'[delivery]\ntimeout = "5s"\n\n'
                f'[[folder]]\npath = "/srv/files/in"\n'
                f'urls = ["http://127.0.0.1:{receiver.port}/hook"]\n')
    receiver.reset()
    procs = [subprocess.Popen([a.folderhook, "relay", "--config", config]) for _ in range(relays)]
    try:
        end = time.monotonic() + 600
        while time.monotonic() < end:
            with receiver.lock:
                if len(receiver.ids) >= n:
                    break
            time.sleep(0.05)
        with receiver.lock:
            times, got, requests = list(receiver.times), len(receiver.ids), len(receiver.times)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    rate = (got - 1) / (times[-1] - times[0]) if got > 1 else None
    return rate, got, requests


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folderhook", required=True)
    ap.add_argument("--nats-publish", required=True)
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="folderhook-relay-bench.")
    port = free_port()
    server = subprocess.Popen(["/usr/sbin/nats-server", "-js", "-a", "127.0.0.1", "-p", str(port),
                               "-sd", os.path.join(work, "store")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"nats://127.0.0.1:{port}"
        subprocess.run([a.nats_publish, "ceiling", url, "fh.create", str(a.messages)], check=True,
                       capture_output=True)
        receiver = SlowReceiver()
        ones, threes, ratios = [], [], []
        for i in range(a.runs):
            one = relay_run(a, work, url, receiver, 1, f"one{i}", a.messages)
            three = relay_run(a, work, url, receiver, 3, f"three{i}", a.messages)
            ones.append(one[0])
            threes.append(three[0])
            ratios.append(three[0] / one[0] if one[0] and three[0] else None)
            print(f"run {i + 1}: one relay {one[0] or 0:.1f}/s ({one[1]}/{a.messages} delivered, "
                  f"{one[2]} requests); three relays {three[0] or 0:.1f}/s ({three[1]}/{a.messages}, "
                  f"{three[2]} requests)", flush=True)
        r1, r3, ratio = median(ones), median(threes), median(ratios)
        met = "yes" if ratio is not None and ratio >= 2.5 else "NO"
        print(f"| relay: {a.messages:,} messages from a stream to a receiver taking 20 ms per request, "
              f"messages/s, three relays sharing a consumer | {r3:,.1f} | one relay | {r1:,.1f} | "
              f"{ratio:.2f}x | >= 2.50x | {met} |")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
