#!/usr/bin/env python3
"""A loopback OTLP/HTTP trace receiver for the tracing tests.

Run with the py2 peer venv (scripts/install-peers.sh puts opentelemetry-proto there):

    .peers/py2/bin/python tests/interop/otlp_receiver.py --port-file PATH --out PATH

It listens on 127.0.0.1 on an ephemeral port and, once listening, writes the port number to
--port-file (written to a temporary file, then renamed, so a reader never sees half of it).
Point the server at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT.

    POST /v1/traces   Content-Type: application/x-protobuf (Content-Encoding: gzip allowed)
        an ExportTraceServiceRequest; each span becomes one JSON line appended to --out
        (flushed before the answer), with the fields service_name, name, trace_id, span_id,
        parent_span_id ("" for a root), kind (the OTLP enum's number) and attributes (key ->
        string, int, bool or float; arrays as lists). The answer is an empty
        ExportTraceServiceResponse.

Anything else is answered 404, and a body that does not decode 400. Stop it with SIGTERM.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()


def value(any_value):
    """An OTLP AnyValue as a Python value (None for the kinds the tests do not use)."""
    kind = any_value.WhichOneof("value")
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(any_value, kind)
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return None


def attributes(key_values) -> dict:
    return {kv.key: value(kv.value) for kv in key_values}


def span_lines(request: ExportTraceServiceRequest):
    for resource_spans in request.resource_spans:
        service = attributes(resource_spans.resource.attributes).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield json.dumps(
                    {
                        "service_name": service,
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "attributes": attributes(span.attributes),
                        "kind": span.kind,
                    }
                )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries a content-length
    out = None  # the --out file, opened in main
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def answer(self, status: int, body: bytes = b"", kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def not_found(self) -> None:
        self.close_connection = True  # any body is left unread
        self.answer(404, b"not found\n")

    do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = not_found

    def do_POST(self):
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if self.path.split("?")[0] != "/v1/traces" or content_type != PROTOBUF:
            return self.not_found()
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            if self.headers.get("content-encoding", "").strip().lower() == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
        except Exception as e:  # bad gzip or protobuf
            return self.answer(400, f"cannot decode the request: {e}\n".encode())
        lines = list(span_lines(request))
        with self.lock:
            for line in lines:
                self.out.write(line + "\n")
            self.out.flush()
        self.answer(200, EMPTY_RESPONSE, PROTOBUF)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True, help="where to write the port once listening")
    parser.add_argument("--out", required=True, help="JSON lines file, one line per span (appended)")
    args = parser.parse_args()

    Handler.out = open(args.out, "a", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # bound and listening from here on
    temp = f"{args.port_file}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(temp, args.port_file)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Handler.out.close()


if __name__ == "__main__":
    main()
