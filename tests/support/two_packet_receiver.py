#!/usr/bin/python3
"""A webhook receiver as plain as Python's standard library makes one: BaseHTTPRequestHandler on
HTTP/1.1 keep-alive, which writes a response's headers and its body with two send() calls, so a
client that delays its ACK of the first packet waits for Nagle on the second (issue #20, item 6).

Usage: two_packet_receiver.py PORT LOG_FILE
Listens on 127.0.0.1:PORT. Appends one
line per request to LOG_FILE: the time (Unix seconds, as a decimal), a space, the request's path
and query. Answers 200 with a short body. Stops on SIGTERM.
"""
import http.server
import os
import signal
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(self.server.log_path, "ab") as log:
            log.write(b"%.6f %s\n" % (time.time(), self.path.encode("latin-1")))
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()          # first send(): the status line and headers
        self.wfile.write(body)      # second send(): the body

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


def main():
    port, log_path = int(sys.argv[1]), sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.log_path = log_path
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
