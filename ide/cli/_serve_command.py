"""`orgide serve`: the local engine as an OpenAI-compatible HTTP server on this machine.

It prints the token (when it made one up) and then `listening on <base URL>` once it answers, so a
parent process can start it with `--port 0` and read the address from its output.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2
DEFAULT_PORT = 8000


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="serve a local model over an OpenAI-compatible HTTP API",
        description="Serve a local model at /v1/chat/completions, /v1/completions and /v1/models. Every request needs "
                    "'Authorization: Bearer TOKEN'; the token comes from --token, else $ORGIDE_API_TOKEN, else a new "
                    "one is made and printed. Only this machine can connect unless --host and --allow-remote say otherwise.",
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--model", default=None, help="a model name or a path to a GGUF file (default: smollm2-135m-instruct)")
    serve.add_argument("--token", default=None, help="the API token clients must send (default: $ORGIDE_API_TOKEN or a new one)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow --host to be an address other machines can reach (the token is then all that guards it)")  # fmt: skip
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="also accept requests whose Host header is NAME (with --allow-remote)")  # fmt: skip
    serve.add_argument("--device", default=None, metavar="DEVICE",
                       help="where the model runs: auto (the Triton kernels on a CUDA/ROCm GPU if there is one, else the "
                            "CPU), cpu, cuda or cuda:N (default: $ORGIDE_DEVICE, else auto)")  # fmt: skip
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from kernels import DEFAULT_MODEL, EngineConfig, KernelsError, LocalModel, ModelNotFoundError, resolve_model
    from kernels.engine import default_device
    from kernels.server import TOKEN_ENV, ServerConfigError, ServerSettings, new_token, start_server, token_from_environment

    token, token_source = args.token, "--token"
    if token is None and (token := token_from_environment()) is not None:
        token_source = f"${TOKEN_ENV}"
    generated = token is None
    try:
        settings = ServerSettings(token=token or new_token(), host=args.host, port=args.port,
                                  allow_remote=args.allow_remote, allowed_hosts=tuple(args.allow_host))  # fmt: skip
    except ServerConfigError as problem:
        print(f"orgide serve: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.loopback:
        print(f"orgide serve: WARNING: listening on {args.host}, beyond this machine; anyone who can reach it and has "
              "the token can use the model", file=sys.stderr)  # fmt: skip
    name = args.model or DEFAULT_MODEL
    try:
        engine = EngineConfig(device=args.device or default_device())
    except ValueError as problem:
        print(f"orgide serve: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        model = LocalModel.load(resolve_model(name), engine=engine)
    except ModelNotFoundError as problem:
        print(f"orgide serve: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KernelsError as problem:
        print(f"orgide serve: {problem}", file=sys.stderr)
        return EXIT_NO

    async def serve() -> int:
        try:
            server = await start_server(model, settings, model_name=name)
        except ServerConfigError as problem:
            print(f"orgide serve: {problem}", file=sys.stderr)
            return EXIT_NO
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(number, stop.set)
            except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C arrives as KeyboardInterrupt
                pass
        print(f"orgide serve: model {model.name} ({model.path}), context {model.context_length} tokens", flush=True)
        print(f"orgide serve: backend: {model.stats().backend}", flush=True)
        print(f"orgide serve: token {settings.token}" if generated else f"orgide serve: token from {token_source}", flush=True)
        print(f"orgide serve: listening on {server.base_url}", flush=True)
        try:
            await stop.wait()
        finally:
            await server.stop()
        print("orgide serve: stopped", flush=True)
        return EXIT_OK

    try:
        return asyncio.run(serve())
    finally:
        model.close()
