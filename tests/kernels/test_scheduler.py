"""The scheduler over the page manager, driven by a simulated runner (torch-free)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.engine import PageManager, Scheduler, Sequence, Status
from tests.kernels.engine_simulation import STOP, SimulatedRunner, reference_output, step

ROOT = Path(__file__).resolve().parents[2]


def make(prompt: list[int], max_tokens: int = 6, max_total: int = 1000, stop: bool = False) -> Sequence:
    return Sequence(prompt, max_tokens=max_tokens, max_total_tokens=max_total, stop_token_ids=[STOP] if stop else [])


def drain(scheduler: Scheduler, runner: SimulatedRunner, limit: int = 10_000) -> int:
    steps = 0
    while scheduler.has_work:
        step(scheduler, runner)
        steps += 1
        assert steps < limit, "the scheduler stopped making progress"
    return steps


def test_the_scheduler_and_page_manager_import_no_torch() -> None:
    code = (
        "import sys, types, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'numpy'): raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"root = {str(ROOT)!r}\n"
        "for name, path in (('kernels', root + '/kernels'), ('kernels.engine', root + '/kernels/engine')):\n"
        "    module = types.ModuleType(name); module.__path__ = [path]; sys.modules[name] = module\n"
        "import kernels.engine._scheduler, kernels.engine._pages, kernels.engine._sequence\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "ok", done.stderr
    assert importlib.import_module("kernels.engine._scheduler")


def test_sequences_that_arrive_while_others_decode_join_between_steps() -> None:
    pages = PageManager(num_pages=64, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=64), SimulatedRunner(pages)
    first = make([1, 2, 3], max_tokens=10)
    scheduler.add(first)
    step(scheduler, runner)
    step(scheduler, runner)
    second = make([4, 5, 6, 7], max_tokens=3)
    scheduler.add(second)
    batch = step(scheduler, runner)
    assert {c.seq.id for c in batch.chunks} == {first.id, second.id}
    drain(scheduler, runner)
    assert first.generated_ids == reference_output([1, 2, 3], 10, 1000, False)
    assert second.generated_ids == reference_output([4, 5, 6, 7], 3, 1000, False)
    assert pages.used == 0


def test_a_long_prompt_is_prefilled_in_chunks_without_stalling_decoders() -> None:
    pages = PageManager(num_pages=64, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=8), SimulatedRunner(pages)
    decoder = make([1, 2], max_tokens=20)
    scheduler.add(decoder)
    step(scheduler, runner)
    long = make(list(range(3, 43)), max_tokens=2)  # 40 tokens, 8 per step at most
    scheduler.add(long)
    for _ in range(5):
        batch = step(scheduler, runner)
        assert batch.chunks[0].seq is decoder and batch.chunks[0].count == 1  # decodes every step
        assert batch.num_tokens <= 8
    drain(scheduler, runner)
    assert long.generated_ids == reference_output(list(range(3, 43)), 2, 1000, False)


def test_a_request_sharing_a_prefix_computes_only_its_suffix() -> None:
    pages = PageManager(num_pages=64, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=256), SimulatedRunner(pages)
    prefix = list(range(1, 31))
    scheduler.add(make(prefix + [40, 41], max_tokens=4))
    drain(scheduler, runner)
    computed = runner.computed_tokens
    second = make(prefix + [42, 43, 44], max_tokens=4)
    scheduler.add(second)
    drain(scheduler, runner)
    assert second.num_cached == 30
    assert runner.computed_tokens - computed == 3 + 3  # the 3-token suffix, then 3 decode steps
    assert second.generated_ids == reference_output(prefix + [42, 43, 44], 4, 1000, False)


def test_a_prompts_last_token_run_alone_is_a_prefill_and_decodes_come_first() -> None:
    """A prompt whose rest is cached runs its last token alone: a prefill chunk (attended as in a cold run),
    placed after the decodes; a generated token is a decode."""
    pages = PageManager(num_pages=64, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=256), SimulatedRunner(pages)
    prefix = list(range(1, 31))
    decoder = make([7, 8, 9], max_tokens=50)
    scheduler.add(make(prefix + [40], max_tokens=1))
    scheduler.add(decoder)
    step(scheduler, runner)  # both prompts
    step(scheduler, runner)  # the first is done; the decoder decodes
    scheduler.add(make(prefix + [41], max_tokens=2))
    batch = scheduler.schedule()
    assert [(c.seq is decoder, c.count, c.is_decode) for c in batch.chunks] == [(True, 1, True), (False, 1, False)]


def test_concurrent_requests_with_one_prefix_compute_it_once() -> None:
    pages = PageManager(num_pages=128, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=512), SimulatedRunner(pages)
    prefix = list(range(1, 41))
    seqs = [make(prefix + [100 + i, 200 + i], max_tokens=3) for i in range(6)]
    for seq in seqs:
        scheduler.add(seq)
    drain(scheduler, runner)
    assert runner.computed_tokens <= 40 + 6 * 2 + 6 * 2  # the prefix once, tails, decodes
    assert sum(s.num_cached for s in seqs) == 5 * 40


def test_the_longest_cached_prefix_is_admitted_first_but_nobody_starves() -> None:
    pages = PageManager(num_pages=256, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=8, max_wait_rounds=3), SimulatedRunner(pages)
    prefix = list(range(1, 17))
    scheduler.add(make(prefix + [1], max_tokens=1))
    drain(scheduler, runner)
    cold = make([90, 91, 92, 93, 94, 95, 96, 97], max_tokens=1)
    warm = make(prefix + [50], max_tokens=1)
    scheduler.add(cold)
    scheduler.add(warm)
    batch = step(scheduler, runner)
    assert batch.chunks[0].seq is warm  # 16 of its tokens are cached
    # a stream of warm requests cannot keep the cold one out for more than max_wait_rounds steps
    scheduler = Scheduler(pages, max_batch_tokens=2, max_running=1, max_wait_rounds=3)
    cold = make([70, 71, 72], max_tokens=1)
    scheduler.add(cold)
    for index in range(8):
        scheduler.add(make(prefix + [60 + index], max_tokens=1))
        step(scheduler, runner)
        if cold.status is not Status.WAITING:
            break
    assert cold.status is not Status.WAITING and index <= 4


def test_preemption_under_a_tiny_kv_budget_still_gives_the_right_output() -> None:
    pages = PageManager(num_pages=10, page_size=2)
    scheduler, runner = Scheduler(pages, max_batch_tokens=16), SimulatedRunner(pages)
    prompts = [[1, 2, 3], [4, 5, 6, 7], [8, 9], [1, 2, 3, 4]]
    seqs = [make(p, max_tokens=6) for p in prompts]
    for seq in seqs:
        scheduler.add(seq)
    drain(scheduler, runner)
    assert scheduler.stats.preemptions > 0
    for seq, prompt in zip(seqs, prompts, strict=True):
        assert seq.generated_ids == reference_output(prompt, 6, 1000, False)
    assert pages.used == 0


def test_a_sequence_alone_that_outgrows_the_cache_ends_with_length() -> None:
    pages = PageManager(num_pages=3, page_size=2)
    scheduler, runner = Scheduler(pages), SimulatedRunner(pages)
    seq = make([1, 2, 3], max_tokens=50)
    scheduler.add(seq)
    drain(scheduler, runner)
    assert seq.finish_reason == "length" and seq.num_computed == 6 and seq.num_tokens == 7  # the last is never fed
    assert seq.generated_ids == reference_output([1, 2, 3], 4, 1000, False)


def test_cancelling_frees_the_pages_of_running_and_waiting_sequences() -> None:
    pages = PageManager(num_pages=32, page_size=4)
    scheduler, runner = Scheduler(pages, max_batch_tokens=4, max_running=1), SimulatedRunner(pages)
    running, waiting = make(list(range(1, 12)), max_tokens=50), make([5, 6], max_tokens=50)
    scheduler.add(running)
    scheduler.add(waiting)
    step(scheduler, runner)
    assert running.status is Status.RUNNING and pages.used > 0
    scheduler.finish(running, "cancelled")
    scheduler.finish(waiting, "cancelled")
    assert not scheduler.has_work and pages.used == 0
    assert {s.finish_reason for s in scheduler.take_finished()} == {"cancelled"}
    pages.check()


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    page_size=st.integers(1, 4),
    num_pages=st.integers(8, 30),
    budget=st.integers(1, 12),
    max_running=st.integers(1, 5),
)
def test_random_workloads_give_reference_outputs_and_leak_no_page(
    data: st.DataObject, page_size: int, num_pages: int, budget: int, max_running: int
) -> None:
    pages = PageManager(num_pages=num_pages, page_size=page_size)
    scheduler, runner = Scheduler(pages, max_batch_tokens=budget, max_running=max_running), SimulatedRunner(pages)
    shared = data.draw(st.lists(st.integers(1, 9), min_size=0, max_size=6))
    requests = data.draw(st.lists(st.tuples(
        st.lists(st.integers(1, 9), min_size=1, max_size=6),  # tail after the shared prefix
        st.integers(1, 6),  # max tokens
        st.integers(0, 6),  # arrival step
        st.booleans(),  # stops at STOP
        st.one_of(st.none(), st.integers(0, 12)),  # cancel at step
    ), min_size=1, max_size=6))  # fmt: skip
    seqs = []
    for tail, max_tokens, _, stop, _ in requests:
        prompt = shared[: data.draw(st.integers(0, len(shared)))] + tail
        seqs.append((make(prompt, max_tokens, max_total=12, stop=stop), prompt))
    for index in range(200):
        for (seq, _), (_, _, arrival, _, cancel) in zip(seqs, requests, strict=True):
            if arrival == index and pages.pages_for(seq.num_tokens) <= num_pages:
                scheduler.add(seq)
            if cancel == index and seq.status is not Status.FINISHED and (seq.status is Status.RUNNING or seq in scheduler.waiting):
                scheduler.finish(seq, "cancelled")
        if scheduler.has_work:
            step(scheduler, runner)
        elif index > 12:
            break
    assert not scheduler.has_work
    never_full = pages.pages_for(12) <= num_pages
    for (seq, prompt), (_, max_tokens, _, stop, _) in zip(seqs, requests, strict=True):
        expected = reference_output(prompt, max_tokens, 12, stop)
        assert seq.generated_ids == expected[: seq.num_generated]
        if seq.finish_reason != "cancelled" and never_full:
            assert seq.generated_ids == expected and seq.finish_reason in ("stop", "length")
    assert pages.used == 0 and not any(pages.refs)
    pages.check()
