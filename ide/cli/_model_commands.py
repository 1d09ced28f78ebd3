"""`orgide models` and `orgide generate`: local models for the built-in engine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="list, fetch and add local models",
        description="Local GGUF models: those in the cache folder and in folders you add.",
    )  # fmt: skip
    actions = models.add_subparsers(dest="models_action", metavar="ACTION")
    listing = actions.add_parser("list", help="show the cached models and the GGUF files in your model folders")
    listing.add_argument("--dir", action="append", default=[], type=Path, help="also look in this folder")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=_list)
    fetch = actions.add_parser("pull", help="fetch a known model once into the cache (hash-checked)")
    fetch.add_argument("name", help="a known model, e.g. smollm2-135m-instruct")
    fetch.set_defaults(handler=_pull)
    folder = actions.add_parser("add-folder", help="remember a folder of GGUF files")
    folder.add_argument("path", type=Path)
    folder.set_defaults(handler=_add_folder)
    models.set_defaults(handler=_list, dir=[], json=False)

    generate = subparsers.add_parser(
        "generate", help="a quick generation with a local model",
        description="Generate text with the built-in engine. The prompt goes through the model's chat template unless --raw.",
    )  # fmt: skip
    generate.add_argument("--model", default=None, help="a model name or a path to a GGUF file (default: smollm2-135m-instruct)")
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--system", default=None, help="a system message")
    generate.add_argument("--max-tokens", type=int, default=128)
    generate.add_argument("--temperature", type=float, default=0.0)
    generate.add_argument("--seed", type=int, default=None)
    generate.add_argument("--raw", action="store_true", help="send the prompt as it is, without the chat template")
    generate.add_argument("--json", action="store_true", help="print one JSON object with the text, token counts and timings")
    generate.set_defaults(handler=_generate)


def _list(args: argparse.Namespace) -> int:
    from kernels import KNOWN_MODELS, cache_dir, list_models

    entries = list_models(args.dir)
    if args.json:
        rows = [{"name": e.name, "path": str(e.path), "size": e.size, "source": e.source} for e in entries]
        print(json.dumps({"cache": str(cache_dir()), "models": rows, "known": sorted(KNOWN_MODELS)}))
        return EXIT_OK
    if not entries:
        print(f"no models yet in {cache_dir()}; fetch the default with `orgide models pull smollm2-135m-instruct`")
    for entry in entries:
        print(f"{entry.name:32} {entry.size / 1e6:8.1f} MB  {entry.path}")
    return EXIT_OK


def _pull(args: argparse.Namespace) -> int:
    from kernels import ModelFetchError, pull

    try:
        path, downloaded = pull(args.name)
    except ModelFetchError as problem:
        print(f"orgide models pull: {problem}", file=sys.stderr)
        return EXIT_NO
    print(f"{'fetched' if downloaded else 'already cached'}: {args.name} at {path}")
    return EXIT_OK


def _add_folder(args: argparse.Namespace) -> int:
    from kernels import KernelsError, add_user_folder

    try:
        folders = add_user_folder(args.path)
    except KernelsError as problem:
        print(f"orgide models add-folder: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print("model folders: " + ", ".join(str(f) for f in folders))
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
    from kernels import DEFAULT_MODEL, GenerationError, KernelsError, LocalModel, ModelNotFoundError, SamplingParams, TextDelta, resolve_model

    try:
        params = SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
        model = LocalModel.load(resolve_model(args.model or DEFAULT_MODEL))
        if args.raw:
            prompt: str | list[int] = args.prompt
        else:
            messages = ([{"role": "system", "content": args.system}] if args.system else []) + [{"role": "user", "content": args.prompt}]
            prompt = model.encode_chat(messages)
        result = None
        for event in model.stream(prompt, params):
            if isinstance(event, TextDelta):
                if not args.json:
                    print(event.text, end="", flush=True)
            else:
                result = event
    except (GenerationError, ModelNotFoundError) as problem:
        print(f"orgide generate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KernelsError as problem:
        print(f"orgide generate: {problem}", file=sys.stderr)
        return EXIT_NO
    assert result is not None
    if args.json:
        print(json.dumps({
            "text": result.text, "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "finish_reason": result.finish_reason, "prefill_seconds": round(result.prefill_seconds, 4),
            "decode_seconds": round(result.decode_seconds, 4), "model": str(model.path),
        }))  # fmt: skip
    else:
        print()
    return EXIT_OK
