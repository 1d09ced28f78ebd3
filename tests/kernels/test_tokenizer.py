"""Tokenizers rebuilt from GGUF metadata, streaming detokenisation and chat templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kernels import GenerationError, GGUFFile, ModelFileError
from kernels._chat_template import render_chat
from kernels._detokenizer import StreamingDetokenizer
from kernels._tiny_gguf import CHATML_TEMPLATE, SPECIAL_TOKENS
from kernels._tokenizer import GGUFTokenizer


@pytest.fixture(scope="module")
def byte_level(tiny_gguf: Path) -> GGUFTokenizer:
    with GGUFFile(tiny_gguf) as model:
        return GGUFTokenizer(model.metadata)


def sentencepiece_metadata() -> dict:
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    words = ["▁", "h", "e", "l", "o", "w", "r", "d", "he", "ll", "llo", "hello", "▁hello", "▁w", "or", "▁wor", "▁world", "ld"]
    tokens = pieces + words
    types = [2, 3, 3] + [6] * 256 + [1] * len(words)
    scores = [0.0] * len(pieces) + [-float(i) for i in range(len(words))]
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
    }


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=60))
@example(text="<|im_end|>")  # a special token's text: its id, dropped by a plain decode
@example(text="a<|im_start|>b")
def test_byte_level_round_trips_any_text(byte_level: GGUFTokenizer, text: str) -> None:
    assert byte_level.decode(byte_level.encode(text), skip_special=False) == text
    if not any(special in text for special in SPECIAL_TOKENS):
        assert byte_level.decode(byte_level.encode(text)) == text


def test_merges_and_special_tokens_are_used(byte_level: GGUFTokenizer) -> None:
    hello = byte_level.encode("hello")
    assert len(hello) == 1 and byte_level.token_text(hello[0]) == "hello"
    ids = byte_level.encode("<|im_start|>user\nhello<|im_end|>")
    assert ids[0] == 1 and ids[-1] == 2
    assert byte_level.decode(ids) == "user\nhello"
    assert byte_level.decode(ids, skip_special=False) == "<|im_start|>user\nhello<|im_end|>"
    assert byte_level.stop_ids == frozenset({2})
    assert byte_level.encode("x", add_bos=True)[0] == byte_level.bos_id


def test_sentencepiece_vocabulary_with_byte_fallback() -> None:
    tokenizer = GGUFTokenizer(sentencepiece_metadata())
    ids = tokenizer.encode("hello world")
    assert [tokenizer.token_text(i) for i in ids] == ["<s>", "▁hello", "▁world"]
    assert tokenizer.decode(ids) == "hello world"
    emoji = tokenizer.encode("hello 🎉", add_bos=False)
    assert [tokenizer.token_text(i) for i in emoji[-4:]] == ["<0xF0>", "<0x9F>", "<0x8E>", "<0x89>"]
    assert tokenizer.decode(emoji) == "hello 🎉"


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=40))
def test_sentencepiece_round_trips_any_text(text: str) -> None:
    tokenizer = GGUFTokenizer(sentencepiece_metadata())
    assert tokenizer.decode(tokenizer.encode(text, add_bos=False)) == text


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({}, "no tokenizer.ggml.tokens"),
        ({"tokenizer.ggml.model": "bert", "tokenizer.ggml.tokens": ["a"]}, "not supported"),
        ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a"], "tokenizer.ggml.token_type": [1, 1]}, "differ in length"),
        ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.merges": ["ab"]}, "not two tokens"),
        ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a"], "tokenizer.ggml.eos_token_id": 5}, "outside"),
    ],
)
def test_bad_tokenizer_metadata_fails_clearly(metadata: dict, problem: str) -> None:
    with pytest.raises(ModelFileError, match=problem):
        GGUFTokenizer(metadata, "model.gguf")


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=40))
def test_streaming_detokenizer_never_splits_characters(byte_level: GGUFTokenizer, text: str) -> None:
    stream = StreamingDetokenizer(byte_level)
    deltas = [stream.push(token) for token in byte_level.encode(text)]
    deltas.append(stream.flush())
    assert "".join(deltas) == text
    assert all("\ufffd" not in delta for delta in deltas) or "\ufffd" in text


def test_streaming_detokenizer_holds_back_a_partial_character(byte_level: GGUFTokenizer) -> None:
    ids = byte_level.encode("é")  # two byte tokens
    assert len(ids) == 2
    stream = StreamingDetokenizer(byte_level)
    assert stream.push(ids[0]) == ""
    assert stream.push(ids[1]) == "é"
    cut = StreamingDetokenizer(byte_level)
    cut.push(ids[0])
    assert cut.flush() == "\ufffd"


def test_chatml_template_renders_byte_for_byte() -> None:
    messages = [{"role": "user", "content": "Hi"}]
    expected = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert render_chat(CHATML_TEMPLATE, messages) == expected
    with_system = [{"role": "system", "content": "Be brief."}, *messages]
    assert render_chat(CHATML_TEMPLATE, with_system, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    )


def test_template_features_transformers_offers() -> None:
    template = (
        "{{ bos_token }}{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools') }}{% endif %}"
        "{{ m.content | tojson }}{% if loop.index > 1 %}{% break %}{% endif %}{% endfor %}"
    )
    assert render_chat(template, [{"role": "user", "content": "é"}], bos_token="<s>") == '<s>"é"'
    with pytest.raises(GenerationError, match="no tools"):
        render_chat(template, [{"role": "tool", "content": "x"}])
    with pytest.raises(GenerationError):
        render_chat("{{ ''.__class__.__mro__ }}{{ x.y.z }}", [])


def test_a_model_without_template_gets_chatml() -> None:
    assert render_chat(None, [{"role": "user", "content": "Hi"}]) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_the_vocabulary_outlives_the_metadata_it_was_read_from(tiny_gguf: Path) -> None:
    """The tokenizer keeps its own compact copy, so the file's string lists can be dropped after building it."""
    with GGUFFile(tiny_gguf) as model:
        texts = list(model.metadata["tokenizer.ggml.tokens"])
        tokenizer = GGUFTokenizer(model.metadata)
        model.forget(["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "not.a.key"])
        assert "tokenizer.ggml.tokens" not in model.metadata and "tokenizer.ggml.merges" not in model.metadata
        assert model.metadata["tokenizer.ggml.model"] == "gpt2"
    assert tokenizer.tokens == texts
    assert [tokenizer.token_text(i) for i in range(len(texts))] == texts
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello world"
    with pytest.raises(IndexError):
        tokenizer.token_text(len(texts))


@settings(max_examples=30, deadline=None)
@given(pieces=st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=30))
def test_token_texts_round_trip_any_vocabulary(pieces: list[str]) -> None:
    metadata = {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": pieces, "tokenizer.ggml.scores": [0.0] * len(pieces)}
    tokenizer = GGUFTokenizer(metadata)
    assert tokenizer.tokens == pieces
    assert [tokenizer.token_text(i) for i in range(len(pieces))] == pieces


def test_a_loaded_model_keeps_no_python_copy_of_its_vocabulary(tiny_gguf: Path) -> None:
    from kernels import LocalModel, SamplingParams
    from kernels._tokenizer import METADATA_ARRAYS

    model = LocalModel.load(tiny_gguf)
    try:
        assert not [key for key in METADATA_ARRAYS if key in model.file.metadata]
        assert model.tokenizer.tokens[model.tokenizer.eos_id] == model.tokenizer.eos_token == "<|im_end|>"
        result = model.generate("hello", SamplingParams(max_tokens=3, ignore_eos=True))
        assert len(result.token_ids) == 3
    finally:
        model.close()
