"""A fault-injecting proxy in front of the real RGW, for tests.

`FaultProxy` forwards S3 requests to RGW unchanged (the client's SigV4 signature covers what it
sent, the Host header included, so RGW accepts them) and relays the replies as they stream in.
A `choose(n, method, path, headers)` function picks a fault for the n-th request (0-based):

- None: forwarded as it is;
- "slowdown": answered 503 SlowDown at once, as S3 does when throttling, without forwarding;
- "reset": forwarded; the reply's head and half its body are relayed, then the connection is
  reset (RST);
- "truncate": the same, but the connection is closed cleanly, short of the Content-Length;
- "stall": the same, but then nothing more is sent for `stall_s` seconds before the close.

"reset", "truncate" and "stall" apply to replies with a body; others are forwarded unharmed.

Without `choose` it is a counting proxy: every request is forwarded, and `body_bytes` counts the
reply body bytes handed to the client's connection (what crossed the wire to it, also of replies
the client gave up on halfway), `gets` lists [path, Range header, body bytes] per GET (counted before they are sent, so a
client that has its bytes finds them counted).
`reset_counts()` starts the counts again.
"""

import collections
import socket
import struct
import threading
import time

from iam_servers import _Handler, _Loopback, _Upstream

_SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "content-length"}


class FaultProxy(_Loopback):
    def __init__(self, upstream, choose=None, stall_s=10):
        self.requests = 0
        self.injected = collections.Counter()
        self.body_bytes = 0
        self.gets = []
        lock = self._lock = threading.Lock()
        choose = choose or (lambda n, method, path, headers: None)
        server = _Upstream(upstream)
        outer = self

        class Handler(_Handler):
            def _handle(self):
                body = self._body()
                with lock:
                    n = outer.requests
                    outer.requests += 1
                    self._get = None
                    if self.command == "GET":
                        self._get = [self.path, self.headers.get("Range"), 0]
                        outer.gets.append(self._get)
                fault = choose(n, self.command, self.path, self.headers)
                if fault == "slowdown":
                    with lock:
                        outer.injected[fault] += 1
                    self._send(503, _SLOWDOWN, {"Content-Type": "application/xml"})
                    return
                conn = server.get()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                length = resp.getheader("Content-Length")
                if self.command == "HEAD" or length is None or length == "0":
                    # b"" for HEAD and empty replies (a part upload's): reading it frees the
                    # connection for the next request of this client
                    data = resp.read()
                    relay = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}
                    relay["Content-Length"] = length or str(len(data))
                    self._count(len(data) if self.command != "HEAD" else 0)
                    self._send(resp.status, data, relay)
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", length)
                self.end_headers()
                remaining = int(length)
                cut = remaining // 2 if fault in ("reset", "truncate", "stall") and remaining > 1 else -1
                sent = 0
                try:
                    while remaining > 0:
                        piece = resp.read(min(remaining, 1 << 16, cut - sent if cut >= 0 else 1 << 16))
                        if not piece:
                            break
                        self._count(len(piece))  # before the client can have them
                        self.wfile.write(piece)
                        sent += len(piece)
                        remaining -= len(piece)
                        if sent == cut:
                            with lock:
                                outer.injected[fault] += 1
                            self._cut(fault)
                            server.drop()  # the rest of this reply is never read
                            return
                except ConnectionError:
                    server.drop()  # the client gave up on this reply: its rest is never read
                    raise

            def _count(self, sent):
                with lock:
                    outer.body_bytes += sent
                    if self._get is not None:
                        self._get[2] += sent

            def _cut(self, fault):
                self.wfile.flush()
                if fault == "stall":
                    time.sleep(stall_s)
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                else:
                    self.connection.shutdown(socket.SHUT_WR)
                self.close_connection = True

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.endpoint = self._start(Handler)

    def reset_counts(self):
        with self._lock:
            self.body_bytes = 0
            self.gets = []
