"""Stand-ins for Azure AD and for a Blob endpoint that takes Azure AD bearer tokens, for tests.

Azurite takes bearer tokens only over https, and Azure AD has no emulator: `AdTokenServer` plays
a tenant's OAuth2 token endpoint (client credentials), counting requests and issuing expiring
tokens for one good client secret; `BearerBlobFront` stands in front of the real Azurite: it
accepts Blob requests that carry `Authorization: Bearer <token>`, checks the token with the
AdTokenServer, signs the request with the account's Shared Key using the azure-storage-blob
package's own policy (not Quarry's signer) and forwards it.
"""

import threading
import urllib.parse

from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest
from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy

from iam_servers import _Handler, _Loopback, _TokenIssuer, _Upstream


class AdTokenServer(_TokenIssuer):
    def __init__(self, tenant, client_id, good_secret, ttl_seconds=3600):
        super().__init__("ad-token", ttl_seconds)
        self.tenant, self.client_id, self.good_secret = tenant, client_id, good_secret
        outer = self

        class Handler(_Handler):
            def do_POST(self):
                form = self._form()
                n = outer._count_request()
                field = lambda k: form.get(k, [""])[0]  # noqa: E731
                if (self.path != f"/{outer.tenant}/oauth2/v2.0/token"
                        or field("grant_type") != "client_credentials"
                        or field("scope") != "https://storage.azure.com/.default"
                        or field("client_id") != outer.client_id
                        or field("client_secret") != outer.good_secret):
                    self._json(401, {"error": "invalid_client",
                                     "error_description": "AADSTS7000215: Invalid client "
                                                          "secret provided."})
                    return
                token, _ = outer._issue(n)
                self._json(200, {"token_type": "Bearer", "expires_in": outer.ttl,
                                 "access_token": token})

        self.url = self._start(Handler)  # the authority host


class BearerBlobFront(_Loopback):
    """Path-style endpoint http://127.0.0.1:P/<account> in front of Azurite."""

    def __init__(self, tokens, azurite_endpoint, account, key):
        self.tokens = tokens
        self.requests = 0
        self.bearer_requests = 0
        self._lock = threading.Lock()
        target = urllib.parse.urlsplit(azurite_endpoint)
        policy = SharedKeyCredentialPolicy(account, key)
        upstream = _Upstream(azurite_endpoint)
        outer = self

        class Handler(_Handler):
            def _handle(self):
                with outer._lock:
                    outer.requests += 1
                body = self._body()
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or not outer.tokens.valid(auth[7:]):
                    self._send(401, b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
                               b"InvalidAuthenticationInfo</Code><Message>Server failed to "
                               b"authenticate the request.</Message></Error>",
                               {"x-ms-error-code": "InvalidAuthenticationInfo"})
                    return
                with outer._lock:
                    outer.bearer_requests += 1
                headers = {k: v for k, v in self.headers.items()
                           if k.lower().startswith("x-ms-") or k.lower() in (
                               "if-match", "content-type", "content-encoding", "range")}
                if body or self.command in ("PUT", "POST", "DELETE"):
                    headers["Content-Length"] = str(len(body))
                url = f"{target.scheme}://{target.netloc}{self.path}"
                req = HttpRequest(self.command, url, headers=headers, content=body or None)
                policy.on_request(PipelineRequest(req, PipelineContext(None)))
                self._relay(upstream, dict(req.headers), body, lambda name: name.startswith(
                    "x-ms-") or name in ("etag", "last-modified", "content-range",
                                         "content-type", "content-encoding"))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.endpoint = self._start(Handler) + "/" + account
