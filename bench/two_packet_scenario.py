"""The two-packet receiver row of bench/run (issue #20, item 6): a receiver written with Python's
http.server on HTTP/1.1 keep-alive sends each response's headers and body in two packets, and a
client that lets Linux delay its ACK of the first waits 40 ms or more per request. folderhook
(connections=1) delivers a burst of creates to it; the peer is Python's own http.client reusing
one connection to the same receiver (what folderhook did before: about 23 requests/s)."""
import http.client
import os
import re
import subprocess
import time

from loopback import free_port, wait_port

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "support",
                        "two_packet_receiver.py")


def start_receiver(ctx, log):
    port = free_port()
    open(log, "w").close()
    proc = ctx.procs.spawn(["/usr/bin/python3", RECEIVER, str(port), log],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, 10, "the two-packet receiver")
    return proc, port


def logged(log):
    with open(log) as f:
        return [float(line.split(" ", 1)[0]) for line in f if " " in line]


def keep_alive_client_rate(port, requests):
    """Requests/s of http.client reusing one connection: the stall, as clients have it."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    t0 = time.monotonic()
    for i in range(requests):
        conn.request("GET", f"/hook?path=peer{i}")
        conn.getresponse().read()
    elapsed = time.monotonic() - t0
    conn.close()
    return requests / elapsed


def two_packet_run(ctx, n, Folderhook, folder_for):
    log = os.path.join(ctx.work, "two-packet.log")
    proc, port = start_receiver(ctx, log)
    try:
        peer = keep_alive_client_rate(port, 100)
        open(log, "w").close()
        folder = folder_for(ctx, "in-two-packet")
        fh = Folderhook(ctx.procs, ctx.folderhook, ctx.work, "fh-two-packet", folder,
                        f"http://127.0.0.1:{port}/hook", connections=1)
        fh.start()
        w = subprocess.run([ctx.writer, "burst", folder, str(n)], check=True,
                           capture_output=True, text=True).stdout
        start = float(re.search(r"start (\S+)", w).group(1))
        end = time.monotonic() + 600
        times = logged(log)
        while len(times) < n and time.monotonic() < end:
            time.sleep(0.05)
            times = logged(log)
        fh.stop()
        rate = len(times) / (max(times) - start) if times else 0
        return {"rate": rate, "peer": peer, "received": len(times), "written": n}
    finally:
        ctx.procs.stop(proc)
