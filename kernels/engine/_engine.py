"""The engine: one thread that batches every caller's requests, step by step.

Callers `submit` from any thread and read their request's events; the engine thread alone touches
the scheduler, pages, runner and matchers. A step: schedule, fill grammar masks (on a worker, while
the forward runs), run, sample, postprocess.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref

import torch
from collections.abc import Iterator
from collections.abc import Sequence as Seq
from dataclasses import dataclass

from kernels._errors import GenerationError
from kernels._kernel_jobs import set_threads
from kernels._model import LlamaModel
from kernels._sampling import SamplingParams
from kernels._tokenizer import GGUFTokenizer
from kernels.engine._backend import backend_description, check_device_name
from kernels.engine._constraints import CLOSING_MARGIN, CLOSING_WINDOW, GrammarCompiler, MaskFiller
from kernels.engine._device_model import DeviceModel
from kernels.engine._ops import Ops
from kernels.engine._pages import PageManager
from kernels.engine._request import Request
from kernels.engine._runner import ModelRunner
from kernels.engine._sampler import RowSampling, sample_batch
from kernels.engine._scheduler import Batch, Scheduler
from kernels.engine._sequence import Sequence
from kernels.engine._triton_ops import TritonOps


@dataclass(frozen=True)
class EngineConfig:
    page_size: int = 16
    kv_tokens: int = 16384  # KV memory, in tokens over all sequences
    max_batch_tokens: int = 256  # tokens per forward (decodes first, prefill chunks fill the rest)
    max_running: int = 32
    ops: Ops | None = None  # the per-layer ops; None: the model's backend's (TorchOps, or TritonOps for a DeviceModel)
    # where `LocalModel.load` runs the model (kernels/engine/_backend.py): auto, cpu, cuda[:N], interpreter;
    # "": $ORGIDE_DEVICE, else auto (read when the model loads)
    device: str = ""
    dtype: torch.dtype | None = None  # the Triton path's KV cache and prefill activations; None: bfloat16 on a GPU
    # CPU steps of at most this many tokens run on one thread (decode of a few sequences of a small
    # model): waking the other OpenMP threads for each op of a small step costs more than they add, above
    # all with OMP_WAIT_POLICY=PASSIVE (orgide's default) or on a busy machine. None: as many tokens as
    # keep tokens x weight bytes within LIGHT_STEP_BYTES (4 for SmolLM2-135M, none from ~400 MiB of
    # weights); 0: every step on all threads
    light_step_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.device:
            check_device_name(self.device)


LIGHT_STEP_BYTES = 400 * 2**20  # weight bytes read x tokens: below it, one thread beats waking the others


@dataclass(frozen=True)
class EngineStats:
    steps: int
    prefill_tokens: int  # tokens run through the model to fill the cache (prompts, recomputation)
    decode_tokens: int
    cached_tokens: int  # prompt tokens served by the prefix cache
    preemptions: int
    pages_total: int
    pages_used: int  # referenced by running sequences
    pages_cached: int  # held by the prefix cache
    running: int
    waiting: int
    mask_seconds: float  # time spent filling grammar masks (overlapped with the forward)
    backend: str = "cpu"  # "cpu", or "triton on <GPU name>"


class Engine:
    def __init__(self, model: LlamaModel | DeviceModel, tokenizer: GGUFTokenizer, grammars: GrammarCompiler,
                 config: EngineConfig = EngineConfig(), weight_bytes: int = 0) -> None:  # fmt: skip
        """`weight_bytes`: the model's weights as stored (its GGUF's size), for `light_step_tokens`' default."""
        self.model = model
        self.tokenizer = tokenizer
        self.grammars = grammars
        self.config = config
        self.pages = PageManager(max(1, config.kv_tokens // config.page_size), config.page_size)
        self.scheduler = Scheduler(self.pages, max_batch_tokens=config.max_batch_tokens, max_running=config.max_running)
        ops = config.ops
        if ops is None and isinstance(model, DeviceModel):
            ops = TritonOps(model.config.norm_eps, model.device, model.dtype)
        self.runner = ModelRunner(model, self.pages, ops)
        self.backend = backend_description(model)
        self.masks = MaskFiller(model.config.vocab_size)
        self.requests: dict[int, Request] = {}
        self.threads = torch.get_num_threads()  # the creating thread's setting: heavier steps use them all
        set_threads(self.threads)  # our CPU kernels split over them in every step, light ones too
        light = config.light_step_tokens
        self.light_step_tokens = light if light is not None else LIGHT_STEP_BYTES // weight_bytes if weight_bytes else 0
        self.light_steps = 0  # steps run on one thread
        self._inbox: list[Request] = []
        self._cancelled: list[Request] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- any thread -------------------------------------------------------------------------------
    def submit(self, ids: Seq[int], params: SamplingParams) -> Request:
        stop_ids = set(params.stop_token_ids) | (set() if params.ignore_eos else set(self.tokenizer.stop_ids))
        if self.pages.pages_for(len(ids) + 1) > self.pages.num_pages:
            raise GenerationError(f"the prompt has {len(ids)} tokens; the KV cache holds {self.pages.num_pages * self.pages.page_size}")
        compiled = self.grammars.compile(params)
        matcher = self.grammars.matcher(compiled) if compiled is not None else None
        seq = Sequence(ids, max_tokens=params.max_tokens, max_total_tokens=self.model.max_positions, stop_token_ids=stop_ids)
        request = Request(seq, params, self.tokenizer, matcher)
        with self._wake:
            if self._closed:
                raise GenerationError("the model is closed")
            self._inbox.append(request)
            self._start()
            self._wake.notify()
        return request

    def cancel(self, request: Request) -> None:
        """Stop generating for `request` and free its pages (a no-op once it is done)."""
        with self._wake:
            self._cancelled.append(request)
            self._wake.notify()

    def stats(self) -> EngineStats:
        s, p = self.scheduler.stats, self.pages
        return EngineStats(
            steps=s.steps, prefill_tokens=s.prefill_tokens, decode_tokens=s.decode_tokens,
            cached_tokens=s.cached_tokens, preemptions=s.preemptions, pages_total=p.num_pages,
            pages_used=p.used, pages_cached=p.tree.size, running=len(self.scheduler.running),
            waiting=len(self.scheduler.waiting), mask_seconds=self.masks.fill_seconds, backend=self.backend,
        )  # fmt: skip

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.masks.close()

    # -- the engine thread ------------------------------------------------------------------------
    def step(self) -> bool:
        """One step of the loop; False when there was nothing to run."""
        self._take_mail()
        batch = self.scheduler.schedule()
        if batch:
            masks = self.masks.start([self.requests[c.seq.id].matcher for c in batch.sampling])
            with self._threads_for(batch):
                logits = self.runner.run(batch)  # [n, V]
            tokens = self._close_up(batch, sample_batch(masks.apply(logits), [self._row(c.seq) for c in batch.sampling]), logits)
            self._deliver(self.scheduler.postprocess(batch, tokens))
        self._complete()
        return bool(batch)

    @contextlib.contextmanager
    def _threads_for(self, batch: Batch) -> Iterator[None]:
        """One thread for a light CPU step's forward, all of them otherwise. The CPU ops give the same
        numbers on any thread count (tests/kernels/test_engine_threads.py), so batched still equals alone.
        torch's setting is process-wide for threads started later, so it is put back straight after."""
        light = not isinstance(self.model, DeviceModel) and sum(c.count for c in batch.chunks) <= self.light_step_tokens
        self.light_steps += light
        torch.set_num_threads(1 if light else self.threads)
        try:
            yield
        finally:
            if light:
                torch.set_num_threads(self.threads)

    def _close_up(self, batch: Batch, tokens: list[int], logits: torch.Tensor) -> list[int]:
        """Constrained sequences near the end of their budget close their text in time (see _constraints)."""
        for row, chunk in enumerate(batch.sampling):
            seq, request = chunk.seq, self.requests[chunk.seq.id]
            left = min(seq.max_tokens - seq.num_generated, seq.max_total_tokens - seq.num_tokens)
            if request.matcher is None or left > CLOSING_WINDOW:
                continue
            if not request.closing:
                after = self.grammars.closing_cost(request.matcher, tokens[row], limit=left)
                request.closing = 1 + after + CLOSING_MARGIN > left
            if request.closing:
                choice = self.grammars.closing_token(request.matcher, logits[row])
                tokens[row] = tokens[row] if choice is None else choice
        return tokens

    def _row(self, seq: Sequence) -> RowSampling:
        return RowSampling(self.requests[seq.id].sampler, seq.token_ids)

    def _deliver(self, sequences: list[Sequence]) -> None:
        for seq in sequences:
            request = self.requests[seq.id]
            if not seq.new_token:
                request.sampled_without_token()
                continue
            try:
                if not request.accept(seq.token_ids[-1]) and not seq.is_finished:
                    self.scheduler.finish(seq, "stop")
            except GenerationError as error:
                self.scheduler.finish(seq, "error")
                request.fail(error)

    def _complete(self) -> None:
        for seq in self.scheduler.take_finished():
            request = self.requests.pop(seq.id)
            if not request.done and seq.finish_reason != "cancelled":
                request.complete()

    def _take_mail(self) -> None:
        with self._wake:
            inbox, self._inbox = self._inbox, []
            cancelled, self._cancelled = self._cancelled, []
        for request in inbox:
            problem = self._too_short_to_close(request)
            if problem:
                request.fail(GenerationError(problem))
                continue
            self.requests[request.seq.id] = request
            self.scheduler.add(request.seq)
        for request in cancelled:
            if request.seq.id in self.requests and not request.seq.is_finished:
                self.scheduler.finish(request.seq, "cancelled")

    def _too_short_to_close(self, request: Request) -> str:
        """Why a constrained request's token budget cannot hold any complete text ("" when it can)."""
        seq = request.seq
        left = min(seq.max_tokens, seq.max_total_tokens - seq.num_tokens)
        if request.matcher is None or left > CLOSING_WINDOW:
            return ""
        cost = self.grammars.closing_cost(request.matcher, limit=CLOSING_WINDOW + 1)
        if cost <= left:
            return ""
        shortest = f"more than {CLOSING_WINDOW}" if cost > CLOSING_WINDOW else f"about {cost}"
        return (f"{left} tokens are too few for any text the response format or grammar accepts "
                f"(the shortest takes {shortest}): raise max_tokens")  # fmt: skip

    def _fail_all(self, reason: str) -> None:
        for request in list(self.requests.values()):
            if not request.seq.is_finished:
                self.scheduler.finish(request.seq, "error")
            request.fail(GenerationError(reason))
        self.scheduler.take_finished()
        self.requests.clear()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="orgide-engine", daemon=True)
            self._thread.start()
            _RUNNING.add(self)

    def _loop(self) -> None:
        if isinstance(self.model, DeviceModel) and self.model.device.type == "cuda":
            torch.cuda.set_device(self.model.device)  # Triton launches on the thread's current GPU, not the tensors'
        while True:
            with self._wake:
                while not (self._inbox or self._cancelled or self.scheduler.has_work or self._closed):
                    self._wake.wait()
                if self._closed:
                    break
            try:
                self.step()
            except Exception as error:  # a bug or an op failure: every caller hears of it, the engine goes on
                self._fail_all(f"the engine failed: {error!r}")
        self._fail_all("the model was closed")


_RUNNING: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _close_running_engines() -> None:
    """Stop engine threads before the interpreter tears down the native libraries they are inside."""
    for engine in list(_RUNNING):
        engine.close()
