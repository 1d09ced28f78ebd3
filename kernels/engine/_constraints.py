"""Constrained decoding with xgrammar: a JSON schema, any JSON, or an EBNF grammar becomes a token
bitmask for each step, computed on the CPU.

The bitmask of a step depends only on the tokens accepted so far, so it is filled on a worker
thread while the forward runs (torch releases the GIL in its ops) and applied to the logits after.

So that the output always parses, a constrained sequence closes up before its token budget runs
out. Near the end, each sampled token is checked on a fork of the matcher: how many tokens would
the quickest way to a complete text take after it (forced strings, then a stop token or a closing
quote or bracket wherever the grammar allows one)? When that no longer fits the tokens left, the
sequence switches for good to that quickest way. (A small model left alone can repeat an array
item until `max_tokens` and leave the JSON unfinished.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from kernels._errors import GenerationError
from kernels._sampling import SamplingParams
from kernels._tokenizer import GGUFTokenizer

CLOSING_WINDOW = 256  # tokens left below which the closing cost is estimated
CLOSING_MARGIN = 3
CLOSERS = ('"', "}", "]", "null", "0", "false")


def _xgrammar() -> Any:
    try:
        import xgrammar
    except ImportError as error:  # pragma: no cover - xgrammar is in the lock
        raise GenerationError(f"constrained decoding needs xgrammar, which is not installed ({error})") from None
    return xgrammar


class GrammarCompiler:
    """Compiles the constraints of requests for one tokenizer (compiled grammars are cached by xgrammar)."""

    def __init__(self, tokenizer: GGUFTokenizer, kind: str, vocab_size: int, control_ids: Sequence[int] = (),
                 add_space_prefix: bool = True) -> None:  # fmt: skip
        self.tokenizer = tokenizer
        self.kind = kind
        self.control_ids = tuple(control_ids)
        self.vocab_size = vocab_size
        self.add_space_prefix = add_space_prefix
        self._compiler: Any = None
        self._closing_ids: tuple[int, ...] | None = None
        self._probe: torch.Tensor | None = None
        self.closing_seconds = 0.0  # CPU time of the engine thread in closing checks, for the overhead figure

    @property
    def compiler(self) -> Any:
        if self._compiler is None:
            xgr = _xgrammar()
            vocab = list(self.tokenizer.tokens)
            stops = sorted(self.tokenizer.stop_ids)
            for index in self.control_ids:  # control tokens other than stops are never text
                if index not in self.tokenizer.stop_ids:
                    vocab[index] = ""
            info = xgr.TokenizerInfo(
                vocab,
                vocab_type=xgr.VocabType.BYTE_LEVEL if self.kind == "gpt2" else xgr.VocabType.BYTE_FALLBACK,
                vocab_size=self.vocab_size,
                stop_token_ids=stops or None,
                add_prefix_space=self.kind == "llama" and self.add_space_prefix,
            )
            self._compiler = xgr.GrammarCompiler(info, max_threads=1)
        return self._compiler

    def compile(self, params: SamplingParams) -> Any:
        """The compiled grammar a request asks for, or None; a bad schema or grammar is a GenerationError."""
        if not params.constrained:
            return None
        try:
            if params.grammar is not None:
                return self.compiler.compile_grammar(params.grammar)
            assert params.response_format is not None
            if params.response_format["type"] == "json_object":
                return self.compiler.compile_builtin_json_grammar()
            spec = params.response_format.get("json_schema") or {}
            schema = spec.get("schema")
            if schema is None:
                return self.compiler.compile_builtin_json_grammar()
            return self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
        except (RuntimeError, ValueError, TypeError) as error:
            raise GenerationError(f"the constraint cannot be compiled: {error}") from None

    def matcher(self, compiled: Any) -> Any:
        return _xgrammar().GrammarMatcher(compiled)

    @property
    def closing_ids(self) -> tuple[int, ...]:
        """Tokens that finish things, in order of preference: stop tokens, then closers."""
        if self._closing_ids is None:
            vocab = self.tokenizer.backend.get_vocab()
            closers = [vocab[text] for text in CLOSERS if text in vocab and vocab[text] < self.vocab_size]
            self._closing_ids = (*sorted(self.tokenizer.stop_ids), *closers)
        return self._closing_ids


    def closing_cost(self, matcher: Any, proposed: int | None = None, limit: int = 512) -> int:
        """Tokens the quickest way to a complete text takes from `matcher`'s state (after `proposed`)."""
        started = time.thread_time()
        try:
            return self._closing_cost(matcher, proposed, limit)
        finally:
            self.closing_seconds += time.thread_time() - started

    def _closing_cost(self, matcher: Any, proposed: int | None, limit: int) -> int:
        fork, cost = matcher.fork(), 0
        if proposed is not None and not fork.accept_token(proposed):
            return limit
        xgr = _xgrammar()
        if self._probe is None:
            self._probe = xgr.allocate_token_bitmask(1, self.vocab_size)
        words = self._probe[0].numpy()  # int32 [ceil(V / 32)], a view
        while cost < limit and not fork.is_terminated():
            forced = fork.find_jump_forward_string()
            if forced:
                fork.accept_string(forced)
                cost += len(self.tokenizer.encode(forced, add_bos=False))
                continue
            fork.fill_next_token_bitmask(self._probe, 0)
            pick = self._closing_pick(None, lambda token: bool((int(words[token >> 5]) >> (token & 31)) & 1),
                                      lambda: _first_set_bit(words, self.vocab_size))  # fmt: skip
            if pick is None or not fork.accept_token(pick):
                break
            cost += 1
        return cost

    def closing_token(self, matcher: Any, logits: torch.Tensor) -> int | None:
        """The next token of the quickest way to a complete text. logits [V], masked by the grammar."""

        def first_allowed() -> int | None:
            finite = torch.isfinite(logits).nonzero()
            return int(finite[0]) if len(finite) else None

        return self._closing_pick(matcher.find_jump_forward_string(), lambda token: bool(torch.isfinite(logits[token])), first_allowed)

    def _closing_pick(self, forced: str | None, allowed: Callable[[int], bool], first_allowed: Callable[[], int | None]) -> int | None:
        """The first token of a forced string, else a stop token or closer, else the lowest allowed token."""
        if forced:
            first = self.tokenizer.encode(forced, add_bos=False)[:1]
            if first and first[0] < self.vocab_size and allowed(first[0]):
                return first[0]
        for token in self.closing_ids:
            if allowed(token):
                return token
        return first_allowed()


def _first_set_bit(words: np.ndarray, limit: int) -> int | None:
    nonzero = np.flatnonzero(words)
    if not len(nonzero):
        return None
    word = int(nonzero[0])
    value = int(words[word]) & 0xFFFFFFFF
    token = word * 32 + ((value & -value).bit_length() - 1)
    return token if token < limit else None


class MaskJob:
    """The grammar masks of one step, being filled on the worker thread."""

    def __init__(self, future: Future[None] | None, bitmask: torch.Tensor | None, rows: list[int]) -> None:
        self.future = future
        self.bitmask = bitmask
        self.rows = rows
        self.seconds = 0.0

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        """Mask `logits` [n, V] in place (rows without a grammar untouched) and return them."""
        if self.future is None or self.bitmask is None:
            return logits
        self.future.result()
        _xgrammar().apply_token_bitmask_inplace(logits, self.bitmask[: logits.shape[0]], indices=self.rows, backend="cpu")
        return logits


class MaskFiller:
    """Fills the bitmasks of the rows that carry a matcher, off the engine thread."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size
        self._pool: ThreadPoolExecutor | None = None
        self._bitmask: torch.Tensor | None = None
        self.fill_seconds = 0.0  # total time spent filling, for the overhead figure

    def start(self, matchers: Sequence[Any | None]) -> MaskJob:
        rows = [i for i, matcher in enumerate(matchers) if matcher is not None]
        if not rows:
            return MaskJob(None, None, [])
        xgr = _xgrammar()
        if self._bitmask is None or self._bitmask.shape[0] < len(matchers):
            self._bitmask = xgr.allocate_token_bitmask(max(len(matchers), 8), self.vocab_size)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orgide-grammar")
        bitmask = self._bitmask

        def fill() -> None:
            started = time.perf_counter()
            for row in rows:
                matchers[row].fill_next_token_bitmask(bitmask, row)
            self.fill_seconds += time.perf_counter() - started

        return MaskJob(self._pool.submit(fill), bitmask, rows)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

