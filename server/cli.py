"""The `flowbox` command line.

    flowbox run FILE [--event JSON] [--timeout SECONDS] [--memory MB]

compiles FILE (JavaScript, or TypeScript when it ends in .ts), runs its
entry point once with the event, prints the JSON result on stdout and the
captured console output on stderr. Exit status: 0 success; 1 the code threw
or did not compile; 2 a limit was breached.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sandbox import CompileError, Engine, LimitExceeded, Limits, SandboxError

EXIT_OK, EXIT_USER, EXIT_LIMIT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowbox", description="Flowbox workflow runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compile and run one workflow file once")
    run.add_argument("file", type=Path, help="a .js or .ts module")
    run.add_argument("--event", default="{}", help="the event, as JSON (default {})")
    run.add_argument("--timeout", type=float, default=Limits.timeout,
                     help=f"wall-clock limit in seconds (default {Limits.timeout:g})")
    run.add_argument("--memory", type=int, default=Limits.memory // (1024 * 1024),
                     help=f"JS heap limit in MB (default {Limits.memory // (1024 * 1024)})")
    return parser


def _event(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"flowbox: --event is not valid JSON: {exc}") from None


def run_command(args: argparse.Namespace) -> int:
    try:
        source = args.file.read_text()
    except OSError as exc:
        print(f"flowbox: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USER
    event = _event(args.event)
    try:
        limits = Limits(timeout=args.timeout, memory=args.memory * 1024 * 1024)
    except ValueError as exc:
        print(f"flowbox: {exc}", file=sys.stderr)
        return EXIT_USER
    with Engine() as engine:
        try:
            artifact = engine.compile(source, args.file.name)
        except CompileError as exc:
            print(f"flowbox: compile error: {exc}", file=sys.stderr)
            return EXIT_USER
        result = engine.run(artifact, event, limits=limits)
    for entry in result.logs:
        print(f"[{entry.level}] {entry.message}", file=sys.stderr)
    if result.error is None:
        print(json.dumps(result.value))
        return EXIT_OK
    print(f"flowbox: {_describe(result.error)}", file=sys.stderr)
    return EXIT_LIMIT if isinstance(result.error, LimitExceeded) else EXIT_USER


def _describe(error: SandboxError) -> str:
    stack = getattr(error, "stack", None)
    return f"{error}\n{stack}" if stack else str(error)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_command(args)
    return EXIT_USER  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":
    raise SystemExit(main())
