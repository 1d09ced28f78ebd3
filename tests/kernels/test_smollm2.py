"""The real default model, SmolLM2-135M-Instruct (Q4_1): run when it is cached (`orgide models pull`).

The fast path is compared with the float reference forward (tests/kernels/reference_forward.py).
"""

from __future__ import annotations


import pytest
import torch

from kernels import LocalModel, SamplingParams
from tests.default_model import MODEL_PATH, needs_default_model
from tests.kernels.reference_forward import ReferenceModel

pytestmark = [pytest.mark.slow, needs_default_model]
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three uses of a paperclip.",
    "Explain recursion to a child in one sentence.",
    "Translate 'good morning' into Spanish.",
]
TEXT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg, a goldsmith "
    "from Mainz, combined movable metal type, oil-based ink and a wooden screw press adapted from those used to "
    "make wine. Before his invention, books in Europe were copied by hand, usually by monks working in scriptoria, "
    "and a single Bible could take years to complete. Gutenberg's press made it possible to produce hundreds of "
    "identical copies in the time a scribe needed for one. Within fifty years, printing shops had spread to more "
    "than two hundred cities, and millions of books were in circulation. The consequences were enormous: literacy "
    "rose, scientific findings could be shared and checked by scholars far apart, and the Reformation spread "
    "through pamphlets that were printed faster than authorities could suppress them. Standardised spelling and "
    "grammar followed, because printers wanted texts that readers in many regions could understand. Newspapers "
    "appeared in the seventeenth century, and by the nineteenth century steam-powered presses printed thousands "
    "of pages an hour. Historians often compare the printing press with the internet, since both changed who could "
    "publish and how quickly ideas could travel across the world. Yet the early printers themselves rarely grew "
    "rich: presses were expensive, paper was costly, and many workshops went bankrupt when a large edition failed "
    "to sell. Gutenberg himself lost control of his shop to his financier, Johann Fust, after a lawsuit in 1455."
)


@pytest.fixture(scope="module")
def engine() -> LocalModel:
    return LocalModel.load(MODEL_PATH)


@pytest.fixture(scope="module")
def reference() -> ReferenceModel:
    return ReferenceModel(MODEL_PATH, torch.float32)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0))


def chat(engine: LocalModel, prompt: str) -> list[int]:
    return engine.encode_chat([{"role": "user", "content": prompt}])


def test_the_chat_template_renders_chatml_byte_for_byte(engine: LocalModel) -> None:
    assert engine.chat_prompt([{"role": "user", "content": "Hi"}]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_tokens_match_llama_cpp(engine: LocalModel) -> None:
    # ids from llama.cpp (llama-cpp-python 0.3.36) for the same text, special tokens parsed
    text = "<|im_start|>user\nWhat is 2+2? Ünïcode 🎉<|im_end|>"
    assert engine.tokenizer.encode(text) == [1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 5549, 246, 94, 25972, 4635, 15107, 232, 227, 2]
    assert engine.model.linear_mode == "fused", engine.model.fallback_reason


def test_last_position_logits_agree_with_the_float_reference(engine: LocalModel, reference: ReferenceModel) -> None:
    for prompt in PROMPTS:
        ids = chat(engine, prompt)
        fast = engine.model.forward(ids, engine.model.new_cache(512))[-1]
        assert cosine(fast, reference.logits(ids)[-1]) >= 0.999, prompt


def test_teacher_forced_top1_agrees_on_97_percent_of_256_positions(engine: LocalModel, reference: ReferenceModel) -> None:
    ids = engine.tokenizer.encode(TEXT)[:256]
    assert len(ids) == 256
    fast = engine.model.forward(ids, engine.model.new_cache(512), all_logits=True)
    slow = reference.logits(ids)
    agreement = (fast.argmax(-1) == slow.argmax(-1)).float().mean().item()
    assert agreement >= 0.97, agreement


NEAR_TIE = 0.25  # logits: the fast path's top logits stray up to ~0.25 from the float model's (p99, 256 positions)


def test_greedy_continuations_follow_the_float_reference(engine: LocalModel, reference: ReferenceModel) -> None:
    """Every greedy token of the engine is the float reference's top choice, or a near tie with it.

    Counting prompts whose 16 tokens agree exactly (the issue's "4 of 5") is a coin toss here: along
    these continuations the reference's own top two differ by less than 0.05 logits at some step of
    two prompts, well inside the bfloat16 path's noise. So each pick is checked instead: fed the
    engine's continuation, the reference must rate every engine token within NEAR_TIE of its best
    (one reference pass per prompt), and must agree outright on nearly all of the 80 tokens.
    """
    strays, off_argmax = [], 0
    for prompt in PROMPTS:
        ids = chat(engine, prompt)
        fast = list(engine.generate(ids, SamplingParams(max_tokens=16, ignore_eos=True)).token_ids)
        logits = reference.logits(ids + fast)[len(ids) - 1 : -1]  # [16, V]: the reference's view of each step
        best = logits.max(-1).values
        picked = logits[torch.arange(len(fast)), torch.tensor(fast)]
        strays += [(prompt, step, round(float(gap), 3)) for step, gap in enumerate(best - picked) if gap > NEAR_TIE]
        off_argmax += int((picked < best).sum())
    assert not strays, strays
    assert off_argmax <= 4, off_argmax  # of 80 (the teacher-forced test asks 97%)


def test_the_answer_is_sensible(engine: LocalModel) -> None:
    result = engine.generate(chat(engine, "What is the capital of France?"), SamplingParams(max_tokens=20))
    assert "Paris" in result.text and result.finish_reason == "stop"
