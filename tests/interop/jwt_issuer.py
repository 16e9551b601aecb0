#!/usr/bin/env python3
"""A loopback stand-in for an OAuth 2.1 authorization server's signing side, for the JWT tests.

Run with the py2 peer venv (PyJWT and cryptography come with the MCP SDK):

    .peers/py2/bin/python tests/interop/jwt_issuer.py

It makes two RSA keys, "k1" and "k2", serves the public half of the published ones as a JWKS at
http://127.0.0.1:PORT/jwks.json (only k1 at first), and prints one line: {"port": PORT}. Then:

    GET /mint?kid=k1&aud=A&sub=S&scope=a+b&exp_in=300[&nbf_in=0][&customer_id=C]
        a token signed with that key (iss is http://127.0.0.1:PORT/), as text
    POST /rotate
        publishes k2 beside k1

It listens on 127.0.0.1 only and exits when stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEYS = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("k1", "k2")}
PUBLISHED = {"k1"}
LOCK = threading.Lock()


def jwk(kid: str) -> dict:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEYS[kid].public_key()))
    public.update(kid=kid, use="sig", alg="RS256")
    return public


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def answer(self, status: int, body: str, kind: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/jwks.json":
            with LOCK:
                keys = [jwk(k) for k in sorted(PUBLISHED)]
            return self.answer(200, json.dumps({"keys": keys}))
        if url.path == "/mint":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            now = int(time.time())
            claims = {
                "iss": f"http://127.0.0.1:{self.server.server_port}/",
                "aud": q["aud"],
                "sub": q.get("sub", "user-1"),
                "scope": q.get("scope", ""),
                "iat": now,
                "exp": now + int(q.get("exp_in", "300")),
                "nbf": now + int(q.get("nbf_in", "0")),
            }
            if "customer_id" in q:
                claims["customer_id"] = q["customer_id"]
            kid = q.get("kid", "k1")
            token = jwt.encode(claims, KEYS[kid], algorithm="RS256", headers={"kid": kid})
            return self.answer(200, token, "text/plain")
        self.answer(404, "{}")

    def do_POST(self):
        if urlparse(self.path).path == "/rotate":
            with LOCK:
                PUBLISHED.add("k2")
            return self.answer(200, "{}")
        self.answer(404, "{}")


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_port}), flush=True)
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
