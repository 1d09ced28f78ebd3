"""The OpenAI-compatible server, served for real on 127.0.0.1 and called over HTTP with a tiny model."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import LocalModel, SamplingParams, TinyModelSpec, write_tiny_llama_gguf
from kernels.server import BackgroundServer, ServerConfigError, ServerSettings, is_loopback_name
from kernels.server._requests import ENGINE_FIELDS
from kernels.server._security import host_allowed

TOKEN = "test-token-0123456789"
CONTEXT = 2048
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello world"}]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModel]:
    path = write_tiny_llama_gguf(tmp_path_factory.mktemp("served") / "tiny-served.gguf", TinyModelSpec(context=CONTEXT))
    loaded = LocalModel.load(path)
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def server(model: LocalModel) -> Iterator[BackgroundServer]:
    with BackgroundServer(model, ServerSettings(token=TOKEN, max_body_bytes=64 * 1024)) as running:
        yield running


def call(server: BackgroundServer, method: str, path: str, body: Any = None, *, token: str | None = TOKEN,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", server.running.port, timeout=60)
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    payload = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
    connection.request(method, path, body=payload, headers=sent)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    received = {name.lower(): value for name, value in response.getheaders()}
    parsed = json.loads(raw) if received.get("content-type", "").startswith("application/json") else raw
    return response.status, received, parsed


def sse_payloads(raw: bytes) -> list[str]:
    """The data of each server-sent event; fails on anything that is not a well-formed `data:` event."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n"), text[-50:]
    blocks = text[:-2].split("\n\n")
    assert all(block.startswith("data: ") and "\n" not in block for block in blocks), blocks
    return [block[len("data: ") :] for block in blocks]


def assert_openai_error(body: Any, code: str | None = None, param: str | None = None) -> None:
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    if param is not None:
        assert body["error"]["param"] == param, body


def engine_answer(model: LocalModel, **sampling: Any) -> Any:
    return model.generate(model.encode_chat(CHAT), SamplingParams(**sampling))


def stats(server: BackgroundServer) -> dict[str, Any]:
    status, _, body = call(server, "GET", "/stats")
    assert status == 200
    return body


# --- security -------------------------------------------------------------------------------------


@given(st.ip_addresses(), st.one_of(st.none(), st.integers(0, 65535)))
def test_a_host_header_is_allowed_exactly_when_it_names_a_loopback_address(address: Any, port: int | None) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    header = host if port is None else f"{host}:{port}"
    assert host_allowed(header, frozenset()) == address.is_loopback
    assert host_allowed(f"{header}.evil.example", frozenset()) is False


def test_listening_beyond_loopback_needs_consent() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        assert is_loopback_name(host) and ServerSettings(token="t", host=host).loopback
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org", "localhost.example.org"):
        with pytest.raises(ServerConfigError, match="allow_remote"):
            ServerSettings(token="t", host=host)
        assert not ServerSettings(token="t", host=host, allow_remote=True).loopback
    assert ServerSettings(token="t", host="192.168.1.10", allow_remote=True, allowed_hosts=("box.lan",)).host_names() == {"192.168.1.10", "box.lan"}
    for token in ("", "with space", "tab\there", "new\nline"):
        with pytest.raises(ServerConfigError, match="token"):
            ServerSettings(token=token)


def test_models_and_health(server: BackgroundServer) -> None:
    status, _, body = call(server, "GET", "/v1/models")
    assert status == 200 and body["object"] == "list"
    assert [card["id"] for card in body["data"]] == ["tiny-served"] and body["data"][0]["max_model_len"] == CONTEXT
    assert call(server, "GET", "/v1/models/tiny-served")[0] == 200
    status, _, body = call(server, "GET", "/v1/models/gpt-4")
    assert status == 404
    assert_openai_error(body, code="model_not_found")
    assert call(server, "GET", "/health", token=None)[2] == {"status": "ok"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", "Bearer", f"bearer  {TOKEN}x"])
def test_a_missing_or_wrong_token_is_refused(server: BackgroundServer, authorization: str | None) -> None:
    for method, path, body in [("GET", "/v1/models", None), ("POST", "/v1/chat/completions", {"messages": CHAT}), ("GET", "/stats", None)]:
        status, headers, answer = call(server, method, path, body, token=None,
                                       headers={"Authorization": authorization} if authorization else None)  # fmt: skip
        assert status == 401, (path, answer)
        assert headers["www-authenticate"].startswith("Bearer")
        assert_openai_error(answer, code="invalid_api_key")
    assert call(server, "GET", "/v1/models", token=None, headers={"Authorization": f"bearer {TOKEN}"})[0] == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example:{port}",
                                  "0.0.0.0:{port}", "[::2]:{port}", "10.0.0.1", "localhost:{port}x", "[::1", ""])  # fmt: skip
def test_foreign_host_headers_are_refused(server: BackgroundServer, host: str) -> None:
    status, headers, body = call(server, "GET", "/v1/models", headers={"Host": host.format(port=server.running.port)})
    assert status == 403, body
    assert_openai_error(body, code="host_not_allowed")


@pytest.mark.parametrize("host", ["localhost:{port}", "LOCALHOST", "127.0.0.1:{port}", "127.8.9.10:{port}", "[::1]:{port}", "[::1]"])
def test_loopback_host_headers_are_served(server: BackgroundServer, host: str) -> None:
    assert call(server, "GET", "/v1/models", headers={"Host": host.format(port=server.running.port)})[0] == 200


def test_no_cors_headers_and_preflights_are_refused(server: BackgroundServer) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    status, headers, body = call(server, "OPTIONS", "/v1/chat/completions", token=None, headers=preflight)
    assert status == 403 and not any(name.startswith("access-control-") for name in headers)
    assert_openai_error(body, code="cors_refused")
    status, headers, body = call(server, "GET", "/v1/models", headers={"Origin": "https://evil.example"})
    assert status == 403 and not any(name.startswith("access-control-") for name in headers)
    assert_openai_error(body, code="origin_not_allowed")
    assert call(server, "GET", "/v1/models", headers={"Origin": "null"})[0] == 403
    status, headers, _ = call(server, "POST", "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2})
    assert status == 200 and not any(name.startswith("access-control-") for name in headers)


# --- generation -----------------------------------------------------------------------------------


def test_chat_completion_is_the_engines_answer_with_usage(server: BackgroundServer, model: LocalModel) -> None:
    status, _, body = call(server, "POST", "/v1/chat/completions",
                           {"model": "tiny-served", "messages": CHAT, "max_tokens": 7, "temperature": 0.8, "seed": 11})  # fmt: skip
    assert status == 200 and body["object"] == "chat.completion" and body["model"] == "tiny-served"
    expected = engine_answer(model, max_tokens=7, temperature=0.8, seed=11)
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": expected.text}
    assert choice["finish_reason"] == expected.finish_reason
    assert body["usage"] == {"prompt_tokens": expected.prompt_tokens, "completion_tokens": expected.completion_tokens,
                             "total_tokens": expected.prompt_tokens + expected.completion_tokens}  # fmt: skip


@pytest.mark.parametrize("include_usage", [True, False])
def test_streamed_chat_is_well_formed_sse(server: BackgroundServer, model: LocalModel, include_usage: bool) -> None:
    request = {"messages": CHAT, "max_tokens": 9, "temperature": 1.0, "seed": 4, "stream": True}
    if include_usage:
        request["stream_options"] = {"include_usage": True}
    status, headers, raw = call(server, "POST", "/v1/chat/completions", request)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert len({chunk["id"] for chunk in chunks}) == 1 and all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    expected = engine_answer(model, max_tokens=9, temperature=1.0, seed=4)
    with_choices = [c for c in chunks if c["choices"]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in with_choices) == expected.text
    assert [c["choices"][0]["finish_reason"] for c in with_choices][-1] == expected.finish_reason
    assert all(c["choices"][0]["finish_reason"] is None for c in with_choices[:-1])
    usage_chunks = [c for c in chunks if "usage" in c]
    if include_usage:
        assert usage_chunks == [chunks[-1]] and chunks[-1]["choices"] == []
        assert chunks[-1]["usage"]["completion_tokens"] == expected.completion_tokens == 9
        assert chunks[-1]["usage"]["prompt_tokens"] == expected.prompt_tokens
    else:
        assert usage_chunks == []


def test_text_completions_take_text_or_token_ids_and_ignore_eos(server: BackgroundServer, model: LocalModel) -> None:
    ids = model.tokenizer.encode("hello world and the")
    by_text = call(server, "POST", "/v1/completions", {"prompt": "hello world and the", "max_tokens": 6, "ignore_eos": True})[2]
    by_ids = call(server, "POST", "/v1/completions", {"prompt": [ids], "max_tokens": 6, "ignore_eos": True})[2]
    expected = model.generate(ids, SamplingParams(max_tokens=6, ignore_eos=True))
    for body in (by_text, by_ids):
        assert body["object"] == "text_completion" and body["choices"][0]["text"] == expected.text
        assert body["usage"]["prompt_tokens"] == len(ids) and body["usage"]["completion_tokens"] == 6
    status, _, raw = call(server, "POST", "/v1/completions",
                          {"prompt": ids, "max_tokens": 6, "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}})  # fmt: skip
    chunks = [json.loads(p) for p in sse_payloads(raw)[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == expected.text
    assert chunks[-1]["usage"]["completion_tokens"] == 6


def test_stop_strings_cut_the_answer(server: BackgroundServer, model: LocalModel) -> None:
    sampled = {"max_tokens": 40, "temperature": 1.5, "seed": 3, "ignore_eos": True}
    full = call(server, "POST", "/v1/completions", {"prompt": "the", **sampled})[2]["choices"][0]["text"]
    assert full == model.generate(model.tokenizer.encode("the"), SamplingParams(**sampled)).text
    stop = next(full[i : i + 2] for i in range(5, len(full) - 2) if full[i : i + 2].strip())
    body = call(server, "POST", "/v1/completions", {"prompt": "the", **sampled, "stop": [stop, "never-there"]})[2]
    assert body["choices"][0]["text"] == full[: full.index(stop)] and body["choices"][0]["finish_reason"] == "stop"


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False}


@pytest.mark.parametrize("stream", [False, True])
def test_response_format(server: BackgroundServer, stream: bool) -> None:
    formats = [{"type": "json_object"}, {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}]
    for response_format in formats:
        request = {"messages": CHAT, "max_tokens": 40, "response_format": response_format, "stream": stream}
        status, _, body = call(server, "POST", "/v1/chat/completions", request)
        if "response_format" in ENGINE_FIELDS:  # the engine decodes under the constraint: the answer parses
            assert status == 200, body
            if stream:
                chunks = [json.loads(p) for p in sse_payloads(body)[:-1]]
                text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
            else:
                text = body["choices"][0]["message"]["content"]
            answer = json.loads(text)
            assert response_format["type"] == "json_object" or (set(answer) == {"ok"} and isinstance(answer["ok"], bool))
        else:  # no constrained decoding yet: refused, never silently ignored
            assert status == 400
            assert_openai_error(body, code="unsupported_parameter", param="response_format")
    broken = {"type": "json_schema", "json_schema": {"name": "broken", "schema": {"type": "no-such-type"}}}
    status, _, body = call(server, "POST", "/v1/chat/completions", {"messages": CHAT, "response_format": broken, "stream": stream})
    assert status == 400  # refused before any event is sent, streaming or not
    assert_openai_error(body, param=None if "response_format" in ENGINE_FIELDS else "response_format")
    plain = call(server, "POST", "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2, "stream": stream, "response_format": {"type": "text"}})
    assert plain[0] == 200
    too_short = {"messages": CHAT, "max_tokens": 1, "stream": stream, "response_format": formats[1]}
    status, _, body = call(server, "POST", "/v1/chat/completions", too_short)
    assert status == 400  # no text the schema accepts fits in one token: said before any token, streaming or not
    assert "raise max_tokens" in body["error"]["message"]


BAD_REQUESTS = [
    (b"{not json", 400, "invalid_json", None),
    (b"[1, 2]", 400, "invalid_json", None),
    ("\udcff", 400, "invalid_json", None),
    (b'{"messages": [], "temperature": NaN}', 400, "invalid_json", None),
    (b"[" * 30_000 + b"]" * 30_000, 400, "invalid_json", None),
    ({"messages": CHAT, "seed": 2**64}, 400, None, "seed"),
    ({"messages": []}, 400, None, "messages"),
    ({"messages": "hello"}, 400, None, "messages"),
    ({"messages": [{"content": "no role"}]}, 400, None, "messages"),
    ({"messages": CHAT, "temperature": "hot"}, 400, None, "temperature"),
    ({"messages": CHAT, "temperature": True}, 400, None, "temperature"),
    ({"messages": CHAT, "temperature": 500}, 400, "invalid_value", None),
    ({"messages": CHAT, "top_p": 0}, 400, "invalid_value", None),
    ({"messages": CHAT, "max_tokens": 0}, 400, None, "max_tokens"),
    ({"messages": CHAT, "max_tokens": 2.5}, 400, None, "max_tokens"),
    ({"messages": CHAT, "max_tokens": CONTEXT}, 400, "context_length_exceeded", "max_tokens"),
    ({"messages": [{"role": "user", "content": "hello " * CONTEXT}]}, 400, "context_length_exceeded", "messages"),
    ({"messages": CHAT, "stop": [1, 2]}, 400, None, "stop"),
    ({"messages": CHAT, "stream": "yes"}, 400, None, "stream"),
    ({"messages": CHAT, "stream_options": {"include_usage": "yes"}}, 400, None, "include_usage"),
    ({"messages": CHAT, "n": 2}, 400, "unsupported_parameter", "n"),
    ({"messages": CHAT, "logprobs": True}, 400, "unsupported_parameter", "logprobs"),
    ({"messages": CHAT, "response_format": {"type": "yaml"}}, 400, None, "response_format"),
    ({"messages": CHAT, "model": "gpt-4o"}, 404, "model_not_found", "model"),
]
BAD_COMPLETIONS = [
    ({"prompt": [1, 2, 10**9]}, 400, None, "prompt"),
    ({"prompt": []}, 400, None, "prompt"),
    ({"prompt": ["two", "prompts"]}, 400, None, "prompt"),
    ({"prompt": "hi", "ignore_eos": 1}, 400, None, "ignore_eos"),
    ({"prompt": "hi", "stop_token_ids": ["x"]}, 400, None, "stop_token_ids"),
    ({"prompt": "hi", "echo": True}, 400, "unsupported_parameter", "echo"),
]


@pytest.mark.parametrize(("path", "body", "status", "code", "param"),
                         [("/v1/chat/completions", *case) for case in BAD_REQUESTS] + [("/v1/completions", *case) for case in BAD_COMPLETIONS])  # fmt: skip
def test_bad_requests_get_openai_errors(server: BackgroundServer, path: str, body: Any, status: int, code: str | None, param: str | None) -> None:
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogateescape")
    answer = call(server, "POST", path, body)
    assert answer[0] == status, answer
    assert_openai_error(answer[2], code=code, param=param)


def test_wrong_methods_routes_and_oversized_bodies_get_openai_errors_and_serving_goes_on(server: BackgroundServer) -> None:
    status, _, body = call(server, "POST", "/v1/completions", {"prompt": "x" * 70_000})
    assert status == 413
    assert_openai_error(body, code="request_too_large")
    status, _, body = call(server, "GET", "/v1/chat/completions")
    assert status == 405
    assert_openai_error(body, code="method_not_allowed")
    status, _, body = call(server, "GET", "/v2/anything")
    assert status == 404
    assert_openai_error(body, code="not_found")
    assert call(server, "POST", "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2})[0] == 200


# --- concurrency and cancellation -----------------------------------------------------------------


async def _stream_text(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    async with session.post(url, json={**body, "stream": True}, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert response.status == 200
        payloads = sse_payloads(await response.read())
    return "".join(c["choices"][0]["delta"].get("content", "") for c in map(json.loads, payloads[:-1]) if c["choices"])


async def _whole_text(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert response.status == 200
        return (await response.json())["choices"][0]["message"]["content"]


def test_sixteen_concurrent_clients_are_all_answered(server: BackgroundServer, model: LocalModel) -> None:
    requests = [{"messages": [{"role": "user", "content": f"question {i}"}], "max_tokens": 5, "temperature": 1.0, "seed": i}
                for i in range(16)]  # fmt: skip
    expected = [model.generate(model.encode_chat(r["messages"]), SamplingParams(max_tokens=5, temperature=1.0, seed=r["seed"])).text
                for r in requests]  # fmt: skip
    before = stats(server)

    async def all_clients() -> list[str]:
        url = server.base_url + "/chat/completions"
        async with aiohttp.ClientSession() as session:
            calls = [(_stream_text if i % 2 else _whole_text)(session, url, r) for i, r in enumerate(requests)]
            return await asyncio.gather(*calls)

    assert asyncio.run(all_clients()) == expected
    after = stats(server)
    assert after["completed"] - before["completed"] == 16 and after["running"] == 0
    assert after["completion_tokens"] - before["completion_tokens"] == 16 * 5
    steps = after["engine"]["steps"] - before["engine"]["steps"]
    assert steps < 16 * 5, steps  # the clients were batched: fewer engine steps than tokens decoded


def wait_until_idle(server: BackgroundServer, timeout: float) -> dict[str, Any]:
    """The stats once the server and its engine have nothing running (a cancel reaches the engine thread at its
    next step, after the server has let the request go), or the last stats at the timeout."""
    deadline = time.monotonic() + timeout
    while _busy(current := stats(server)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return current


def _busy(report: dict[str, Any]) -> bool:
    engine = report["engine"]
    return bool(report["running"] or engine["running"] or engine["waiting"])


def assert_engine_released(report: dict[str, Any]) -> None:
    """No sequence left in the engine and no page held by one (the prefix cache may keep some)."""
    engine = report["engine"]
    assert (engine["running"], engine["waiting"], engine["pages_used"]) == (0, 0, 0), engine


def test_a_client_leaving_mid_stream_cancels_its_sequence(server: BackgroundServer) -> None:
    before = stats(server)
    long_request = {"prompt": "the", "max_tokens": CONTEXT - 10, "ignore_eos": True, "stream": True}  # ~20 s if left to run

    async def leave_after_three_chunks() -> None:
        async with aiohttp.ClientSession() as session:
            response = await session.post(server.base_url + "/completions", json=long_request, headers={"Authorization": f"Bearer {TOKEN}"})
            seen = 0
            async for line in response.content:
                seen += line.startswith(b"data: ")
                if seen == 3:
                    break
            started = time.monotonic()
            health = await session.get(server.url + "/health")  # the event loop is free while the sequence decodes
            assert health.status == 200 and time.monotonic() - started < 5  # the full generation takes ~20 s
            response.close()  # drops the connection mid-stream

    asyncio.run(leave_after_three_chunks())
    after = wait_until_idle(server, timeout=10)  # cancelled, not run to the end: the counts say which
    assert after["running"] == 0, after
    assert after["cancelled"] - before["cancelled"] == 1 and after["completed"] == before["completed"]
    assert_engine_released(after)


def test_a_client_leaving_a_whole_request_cancels_its_sequence(server: BackgroundServer) -> None:
    before = stats(server)
    body = json.dumps({"prompt": "the", "max_tokens": CONTEXT - 10, "ignore_eos": True}).encode()
    with socket.create_connection(("127.0.0.1", server.running.port)) as raw:
        raw.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
        deadline = time.monotonic() + 10
        while stats(server)["running"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    after = wait_until_idle(server, timeout=10)
    assert after["running"] == 0, after
    assert after["cancelled"] - before["cancelled"] == 1 and after["completed"] == before["completed"]
    assert_engine_released(after)


def test_the_server_stops_with_a_stream_running(model: LocalModel) -> None:
    server = BackgroundServer(model, ServerSettings(token=TOKEN)).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.running.port, timeout=30)
    connection.request("POST", "/v1/completions", body=json.dumps({"prompt": "the", "max_tokens": 1000, "ignore_eos": True, "stream": True}),
                       headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})  # fmt: skip
    response = connection.getresponse()
    assert response.status == 200 and response.readline().startswith(b"data: ")
    running = server.running
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 8
    assert running.stats.snapshot()["running"] == 0 and running.stats.snapshot()["cancelled"] == 1
    connection.close()
