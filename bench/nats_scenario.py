"""The JetStream row of bench/run: folderhook publishing a burst of creates into a JetStream
stream on this machine (the outbox committing first, as always), against a bare asynchronous
publish loop written with the same client library (bench/nats_publish.c: the ceiling)."""
import os
import re
import shutil
import subprocess
import time

from loopback import free_port, wait_port






def count(ctx, url, stream):
    r = subprocess.run([ctx.nats_publish, "count", url, stream], capture_output=True, text=True)
    return int(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip().isdigit() else -1


def nats_run(ctx, n, Folderhook, folder_for):
    store = os.path.join(ctx.work, "nats-store")
    shutil.rmtree(store, ignore_errors=True)
    port = free_port()
    server = ctx.procs.spawn(["/usr/sbin/nats-server", "-js", "-a", "127.0.0.1", "-p", str(port),
                              "-sd", store], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"
    try:
        wait_port(port, 10, "nats-server")
        folder = folder_for(ctx, "in-nats")
        fh = Folderhook(ctx.procs, ctx.folderhook, ctx.work, "fh-nats", folder,
                        url + "/fh.{action}")
        subprocess.run([ctx.folderhook, "nats-stream", "--config", fh.config, folder, "--name",
                        "FH"], check=True, capture_output=True)
        fh.start()
        w = subprocess.run([ctx.writer, "burst", folder, str(n)], check=True,
                           capture_output=True, text=True).stdout
        start = float(re.search(r"start (\S+)", w).group(1))
        # time.time() is the writer's clock too; polled every 20 ms.
        last, got, seen = None, 0, time.monotonic()
        while time.monotonic() - seen < 20:
            c = count(ctx, url, "FH")
            if c > got:
                got, seen = c, time.monotonic()
            if got >= n:
                last = time.time()
                break
            time.sleep(0.02)
        fh.stop()
        outcomes, _ = fh.log_summary()
        rate = got / (last - start) if last else None
        # The ceiling: its own stream (made by the helper, before its clock starts), same server.
        c = subprocess.run([ctx.nats_publish, "ceiling", url, "ceil.x", str(n)],
                           capture_output=True, text=True)
        m = re.search(r"rate (\S+)", c.stdout)
        ceiling = float(m.group(1)) if m else None
        return {"rate": rate, "received": got, "written": n, "ceiling": ceiling,
                "outcomes": outcomes, "ceiling_error": c.stderr.strip()}
    finally:
        ctx.procs.stop(server)
        shutil.rmtree(store, ignore_errors=True)
