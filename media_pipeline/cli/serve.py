"""`media-pipeline serve`: the web page and its API on 127.0.0.1, against the offline pipeline (docs/web.md).

The emulated account is built once and keeps running between uploads; stop with Ctrl-C.
"""
from __future__ import annotations

import argparse
import secrets
import sys
import threading
from typing import IO

DEFAULT_PORT = 8000


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="the web page and API on 127.0.0.1, offline")
    serve.set_defaults(run=run)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    serve.add_argument("--user", default="workshop", help="the user to create (default: workshop)")
    serve.add_argument("--password", help="its password (default: a new random one, printed)")
    serve.add_argument("--verbose", action="store_true", help="the functions' INFO logs on stderr")


def run(args: argparse.Namespace, stdout: IO[str], *, ready: threading.Event | None = None,
        stop: threading.Event | None = None) -> int:
    from media_pipeline.local.runtime import LocalPipeline
    from media_pipeline.local.web_server import LocalWeb

    password = args.password or f"Mp-{secrets.token_urlsafe(12)}1a"
    print("Starting the emulated account and the offline engines...", file=sys.stderr)
    pipeline = LocalPipeline(mode="server", warm_engines=True, log_level="INFO" if args.verbose else "WARNING")
    try:
        with pipeline, LocalWeb(pipeline, port=args.port) as web:
            web.add_user(args.user, password)
            stdout.write(f"Open {web.url}/ and sign in as {args.user} with password {password}\n"
                         "Stop with Ctrl-C.\n")
            stdout.flush()
            if ready is not None:
                ready.set()
            (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"media-pipeline: cannot serve on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the pipeline could not start: say why, exit 1
        print(f"media-pipeline: the pipeline could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if ready is not None:
            ready.set()  # also when it could not start, so a waiting caller sees the outcome
    return 0
