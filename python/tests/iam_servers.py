"""Stand-ins for IBM Cloud IAM and for a COS endpoint that takes IAM bearer tokens, for tests.

IBM IAM has no emulator, so `TokenServer` plays its token endpoint: it counts requests, issues
expiring tokens for one good api key and rejects other keys as IAM does (HTTP 400).
`BearerFront` stands in front of the real RGW: it accepts S3 requests that carry
`Authorization: Bearer <token>`, checks the token with the TokenServer, re-signs the request
with SigV4 for RGW and forwards it; it counts the client connections it accepts.
"""

import http.client
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that drops a connection (after a fault it was served, say) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Kept-alive HTTP/1.1 without log lines, with the reading and replying the stand-ins share."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs stall every kept-alive request by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length", 0) or 0)
        return self.rfile.read(length) if length else b""

    def _form(self):
        return urllib.parse.parse_qs(self._body().decode())

    def _send(self, status, data, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _relay(self, upstream, headers, body, keep):
        """Sends the request on to `upstream` with `headers` (signed for it) and passes its
        reply back with the reply headers whose lower-case names `keep` accepts."""
        conn = upstream.get()
        # The path was signed as the client sent it: forward it unchanged.
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        kept = {k: v for k, v in resp.getheaders() if keep(k.lower())}
        if self.command == "HEAD":
            kept["Content-Length"] = resp.getheader("Content-Length", "0")
        self._send(resp.status, data, kept)


class _Upstream:
    """Kept-alive connections to a server behind a stand-in: one per handler thread."""

    def __init__(self, url):
        target = urllib.parse.urlsplit(url)
        self._host, self._port = target.hostname, target.port
        self._local = threading.local()

    def get(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self._host, self._port)
        return conn

    def drop(self):
        """Closes this thread's connection (a reply on it was left unread)."""
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            conn.close()


class _Loopback:
    """A stand-in served on a free loopback port, on a daemon thread."""

    def _start(self, handler):
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class _TokenIssuer(_Loopback):
    """The books of a token endpoint: the requests it had, the expiring tokens it issued."""

    def __init__(self, stem, ttl_seconds):
        self.ttl = ttl_seconds
        self.requests = 0
        self.issued = {}  # token -> expiry (epoch seconds)
        self._stem = stem
        self._lock = threading.Lock()

    def _count_request(self):
        with self._lock:
            self.requests += 1
            return self.requests

    def _issue(self, n):
        """A new token for request `n`, valid for ttl seconds, and the time it was issued."""
        now = int(time.time())
        token = f"{self._stem}-{n}-{now}"
        with self._lock:
            self.issued[token] = now + self.ttl
        return token, now

    def valid(self, token):
        with self._lock:
            exp = self.issued.get(token)
        return exp is not None and time.time() < exp


class TokenServer(_TokenIssuer):
    def __init__(self, good_key, ttl_seconds=3600):
        super().__init__("iam-token", ttl_seconds)
        self.good_key = good_key
        outer = self

        class Handler(_Handler):
            def do_POST(self):
                form = self._form()
                n = outer._count_request()
                grant = form.get("grant_type", [""])[0]
                if (grant != "urn:ibm:params:oauth:grant-type:apikey"
                        or form.get("apikey", [""])[0] != outer.good_key):
                    self._json(400, {"errorCode": "BXNIM0415E",
                                     "errorMessage": "Provided API key could not be found."})
                    return
                token, now = outer._issue(n)
                self._json(200, {"access_token": token, "token_type": "Bearer",
                                 "expires_in": outer.ttl, "expiration": now + outer.ttl})

        self.url = self._start(Handler) + "/identity/token"


class BearerFront(_Loopback):
    def __init__(self, tokens, rgw_endpoint, access_key, secret_key):
        self.tokens = tokens
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        target = urllib.parse.urlsplit(rgw_endpoint)
        creds = Credentials(access_key, secret_key)
        upstream = _Upstream(rgw_endpoint)
        outer = self

        class Handler(_Handler):
            def setup(self):
                super().setup()
                with outer._lock:
                    outer.connections += 1

            def _handle(self):
                with outer._lock:
                    outer.requests += 1
                body = self._body()
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or not outer.tokens.valid(auth[7:]):
                    code = "ExpiredToken" if auth.startswith("Bearer ") else "AccessDenied"
                    self._send(403 if code == "AccessDenied" else 400,
                               f"<Error><Code>{code}</Code><Message>bearer token rejected"
                               f"</Message></Error>".encode(), {})
                    return
                url = f"{target.scheme}://{target.netloc}{self.path}"
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("range", "if-match", "content-type", "content-md5")}
                headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
                req = AWSRequest(method=self.command, url=url, data=body, headers=headers)
                SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
                self._relay(upstream, dict(req.headers.items()), body, lambda name: name in (
                    "etag", "last-modified", "content-range", "content-type"))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.endpoint = self._start(Handler)


class SessionTokenServer(_Loopback):
    """Plays STS GetSessionToken (the local RGW does not serve it): checks that the request is a
    SigV4-signed POST of Action=GetSessionToken and answers with the keys it was given."""

    def __init__(self, access_key, secret_key, session_token=""):
        self.requests = []
        outer = self

        class Handler(_Handler):
            def do_POST(self):
                form = self._form()
                outer.requests.append((form, self.headers.get("Authorization", "")))
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 900))
                xml = (f"<GetSessionTokenResponse><GetSessionTokenResult><Credentials>"
                       f"<AccessKeyId>{access_key}</AccessKeyId>"
                       f"<SecretAccessKey>{secret_key}</SecretAccessKey>"
                       f"<SessionToken>{session_token}</SessionToken>"
                       f"<Expiration>{expires}</Expiration></Credentials>"
                       f"</GetSessionTokenResult></GetSessionTokenResponse>").encode()
                self._send(200, xml, {"Content-Type": "text/xml"})

        self.url = self._start(Handler) + "/"
