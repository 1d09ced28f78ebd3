"""The routes: chat and text completions (whole or streamed as server-sent events), models, health, stats."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from kernels._errors import KernelsError
from kernels._local_model import GenerationResult, LocalModel, TextDelta
from kernels.server._bridge import WorkerStream
from kernels.server._errors import APIError
from kernels.server._requests import Generation, chat_generation, completion_generation, parse_json_object
from kernels.server._responses import DONE, Kind, ResponseShape, sse
from kernels.server._stats import ServerStats

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
OWNER = "orgide"
log = logging.getLogger("kernels.server")
WORKER_STOP_SECONDS = 30.0  # a cancelled worker stops after the engine step it is in


@dataclass(frozen=True)
class ServedModel:
    """The loaded model and the names a request may call it by."""

    model: LocalModel
    id: str
    aliases: frozenset[str]
    created: int

    @classmethod
    def of(cls, model: LocalModel, name: str | None = None) -> ServedModel:
        served_id = name if name and "/" not in name and not name.endswith(".gguf") else model.name
        aliases = {served_id, model.name, model.path.name, f"local/{served_id}"} | ({name} if name else set())
        return cls(model, served_id, frozenset(aliases), int(time.time()))

    def check(self, requested: object) -> None:
        if requested is None:
            return
        if not isinstance(requested, str) or requested not in self.aliases:
            raise APIError(404, f"the model {requested!r} does not exist here; this server serves {self.id!r}",
                           param="model", code="model_not_found")  # fmt: skip

    def card(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": OWNER,
                "max_model_len": self.model.context_length}  # fmt: skip


class Routes:
    def __init__(self, served: ServedModel, stats: ServerStats, max_running: int) -> None:
        self.served = served
        self.stats = stats
        self.slots = asyncio.Semaphore(max_running)
        self.active: set[WorkerStream[Any]] = set()

    def install(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/models/{model_id}", self.model)
        app.router.add_get("/health", self.health)
        app.router.add_get("/stats", self.stats_report)
        app.on_shutdown.append(self._cancel_all)
        app.on_cleanup.append(self._wait_for_workers)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stats_report(self, request: web.Request) -> web.Response:
        engine = asdict(self.served.model.stats())  # the batching engine: pages, running and waiting sequences
        return web.json_response({"model": self.served.id, **self.stats.snapshot(), "engine": engine})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [self.served.card()]})

    async def model(self, request: web.Request) -> web.Response:
        self.served.check(request.match_info["model_id"])
        return web.json_response(self.served.card())

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, "chat", chat_generation)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, "text", completion_generation)

    async def _generate(self, request: web.Request, kind: Kind,
                        prepare: Callable[[Mapping[str, Any], LocalModel], Generation]) -> web.StreamResponse:  # fmt: skip
        body = parse_json_object(await request.read())
        self.served.check(body.get("model"))
        generation = await asyncio.to_thread(prepare, body, self.served.model)  # tokenising may take a while
        shape = ResponseShape(kind, self.served.id)
        async with self.slots:
            if generation.stream:
                return await self._stream(request, generation, shape)
            return await self._whole(generation, shape)

    def _worker(self, generation: Generation) -> WorkerStream[TextDelta | GenerationResult]:
        def open_stream() -> Iterator[TextDelta | GenerationResult]:  # on the worker thread
            self.stats.generation_started()
            return self.served.model.stream(generation.prompt_ids, generation.params)

        return WorkerStream(open_stream, self.stats.generation_finished)

    async def _whole(self, generation: Generation, shape: ResponseShape) -> web.Response:
        result = None
        async with self._tracked(self._worker(generation)) as events:
            try:
                async for event in events:
                    if isinstance(event, GenerationResult):
                        result = event
            except KernelsError as error:
                raise APIError(400, str(error)) from None
        if result is None:
            raise APIError(500, "the engine ended without a result", type="server_error", code="engine_error")
        self.stats.count_tokens(result.prompt_tokens, result.completion_tokens)
        return web.json_response(shape.whole(result))

    async def _stream(self, request: web.Request, generation: Generation, shape: ResponseShape) -> web.StreamResponse:
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            async with self._tracked(self._worker(generation)) as events:
                # The headers wait for the first event, so a request the engine refuses still gets an HTTP error.
                try:
                    first = await anext(events, None)
                except KernelsError as error:
                    raise APIError(400, str(error)) from None
                await response.prepare(request)
                if (opening := shape.first_chunk()) is not None:
                    await response.write(sse(opening))
                try:
                    async for event in _prepend(first, events):
                        if isinstance(event, TextDelta):
                            await response.write(sse(shape.text_chunk(event.text)))
                            continue
                        self.stats.count_tokens(event.prompt_tokens, event.completion_tokens)
                        await response.write(sse(shape.final_chunk(event.finish_reason)))
                        if generation.include_usage:
                            await response.write(sse(shape.usage_chunk(event)))
                except KernelsError as error:  # the headers are out: the error travels as an event
                    await response.write(sse(APIError(400, str(error)).body()))
                except (ConnectionResetError, asyncio.CancelledError):
                    raise
                except Exception:
                    log.exception("generation failed mid-stream")
                    await response.write(sse(APIError(500, "generation failed", type="server_error", code="engine_error").body()))
                await response.write(DONE)
            await response.write_eof()
        except ConnectionResetError:  # the client left; leaving the block has cancelled its sequence
            pass
        return response

    def _tracked(self, stream: WorkerStream[Any]) -> _Tracked:
        return _Tracked(self.active, stream)

    async def _cancel_all(self, app: web.Application) -> None:
        for stream in list(self.active):
            stream.cancel()

    async def _wait_for_workers(self, app: web.Application) -> None:
        """Stopping returns once no worker touches the model, so the caller may close it."""
        deadline = time.monotonic() + WORKER_STOP_SECONDS
        while self.stats.snapshot()["running"] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    if first is not None:
        yield first
    async for item in rest:
        yield item


class _Tracked:
    """Keeps a running WorkerStream in `active` (so shutdown can cancel it) while the block runs."""

    def __init__(self, active: set[WorkerStream[Any]], stream: WorkerStream[Any]) -> None:
        self.active = active
        self.stream = stream

    async def __aenter__(self) -> WorkerStream[Any]:
        self.active.add(self.stream)
        return await self.stream.__aenter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.active.discard(self.stream)
        await self.stream.__aexit__(*exc_info)
