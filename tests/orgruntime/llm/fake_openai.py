"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose answers a test scripts, fault by fault.

Each request takes the next behaviour from the queue (the last one repeats). The server speaks HTTP/1.0,
so every connection closes after its response: a connection still open at the end is one the client
abandoned without closing.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """A streamed chat completion; `split_at` writes its bytes in two parts cut at that offset."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    split_at: int | None = None
    compact: bool = False  # everything in one chunk: a short body for byte-by-byte tests
    prompt_tokens: int = 11
    completion_tokens: int = 7


@dataclass(frozen=True)
class Status:
    code: int
    body: str = '{"error": {"message": "scripted failure", "type": "server_error"}}'
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


@dataclass(frozen=True)
class Reset:
    """Send the start of a streamed answer, then reset the connection."""

    after_chunks: int = 1


@dataclass(frozen=True)
class Hang:
    """Start a stream and never finish it (a keep-alive comment every 50 ms) until the client goes away."""


@dataclass(frozen=True)
class Delay:
    """Say nothing for `seconds`, then answer."""

    seconds: float
    then: Answer = Answer(text="late")


Behaviour = Answer | Status | Reset | Hang | Delay


def sse_body(answer: Answer, model: str = "gpt-4o-mini") -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
        }
        if usage is not None:
            data["usage"] = usage
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    usage = {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens, "total_tokens": answer.prompt_tokens + answer.completion_tokens}
    if answer.compact:
        calls = [{"index": i, "id": f"c{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, (n, a) in enumerate(answer.tool_calls)]
        delta: dict[str, Any] = {"content": answer.text, **({"tool_calls": calls} if calls else {})}
        data = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": model, "usage": usage,
                "choices": [{"index": 0, "delta": delta, "finish_reason": "tool_calls" if calls else "stop"}]}
        return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\ndata: [DONE]\n\n"
    parts = [chunk({"role": "assistant", "content": ""})]
    for start in range(0, len(answer.text), 4):
        parts.append(chunk({"content": answer.text[start : start + 4]}))
    for index, (name, arguments) in enumerate(answer.tool_calls):
        call = {"index": index, "id": f"call_fake_{index}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        parts.append(chunk({"tool_calls": [call]}))
    parts.append(chunk({}, finish="tool_calls" if answer.tool_calls else "stop"))
    parts.append(chunk({}, usage=usage))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


@dataclass
class FakeOpenAI:
    behaviours: list[Behaviour] = field(default_factory=lambda: [Answer(text="hello")])
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)  # each request's Authorization header ("" when none)
    open_connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self.behaviours = list(behaviours)
            self.requests.clear()
            self.authorizations.clear()

    def _next(self, body: dict[str, Any], authorization: str = "") -> Behaviour:
        with self._lock:
            self.requests.append(body)
            self.authorizations.append(authorization)
            return self.behaviours.pop(0) if len(self.behaviours) > 1 else self.behaviours[0]

    def wait_closed(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_connections == 0:
                return True
            time.sleep(0.02)
        return self.open_connections == 0

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                with fake._lock:
                    fake.open_connections += 1
                super().setup()

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with fake._lock:
                        fake.open_connections -= 1

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                behaviour = fake._next(body, self.headers.get("authorization") or "")
                try:
                    self._behave(behaviour, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _behave(self, behaviour: Behaviour, body: dict[str, Any]) -> None:
                match behaviour:
                    case Answer():
                        self._stream(behaviour)
                    case Status(code=code, body=text, headers=headers, content_type=content_type):
                        self.send_response(code)
                        self.send_header("content-type", content_type)
                        for name, value in headers:
                            self.send_header(name, value)
                        data = text.encode()
                        self.send_header("content-length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                    case Reset(after_chunks=count):
                        self._stream_headers()
                        body_bytes = sse_body(Answer(text="partial answer that is cut"))
                        pieces = body_bytes.split(b"\n\n")
                        self.wfile.write(b"\n\n".join(pieces[:count]) + b"\n\n")
                        self.wfile.flush()
                        time.sleep(0.05)
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                    case Hang():
                        self._stream_headers()
                        self.wfile.write(sse_body(Answer(text="never")).split(b"\n\n")[0] + b"\n\n")
                        self.wfile.flush()
                        while True:
                            time.sleep(0.05)
                            self.wfile.write(b": keep-alive\n\n")
                            self.wfile.flush()
                    case Delay(seconds=seconds, then=then):
                        time.sleep(seconds)
                        self._stream(then)

            def _stream_headers(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()

            def _stream(self, answer: Answer) -> None:
                self._stream_headers()
                data = sse_body(answer)
                cut = answer.split_at if answer.split_at is not None else len(data)
                self.wfile.write(data[:cut])
                self.wfile.flush()
                if cut < len(data):
                    time.sleep(0.002)
                    self.wfile.write(data[cut:])
                    self.wfile.flush()

            def _json(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
