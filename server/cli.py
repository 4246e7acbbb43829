"""The `flowbox` command line.

    flowbox serve [--host H] [--port P] [--data-dir DIR] [--database-url URL]
                  [--workers N] [...every setting of server/config.py]
    flowbox keys create|list|revoke, flowbox sessions create   (server/admin.py)
    flowbox --version
    flowbox run FILE [--event JSON] [--timeout SECONDS] [--memory MB]
                     [--data DIR] [--account ID] [--room-scope ROOM]
                     [--var NAME=VALUE]... [--secret NAME=VALUE]...
                     [--send-event TYPE=JSON]...

compiles FILE (JavaScript, or TypeScript when it ends in .ts), runs its
entry point once with the event and the bindings (store, room, files,
event, env; from the data directory of server/localdata.py when --data is
given, else empty, with files discarded after the run), prints the JSON
result on stdout and the captured console output on stderr. Exit status:
0 success; 1 the code threw or did not compile, or bad input; 2 a limit was
breached.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bindings
from sandbox import CompileError, Engine, LimitExceeded, Limits, RunResult, SandboxError

from . import admin, localdata
from .config import Config, ConfigError, allow_list, converter, env_name, from_env

EXIT_OK, EXIT_USER, EXIT_LIMIT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowbox", description="Flowbox workflow runtime")
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compile and run one workflow file once")
    run.add_argument("file", type=Path, help="a .js or .ts module")
    run.add_argument("--event", default="{}",
                     help='the event as JSON: {"type": ..., "data": {...}} (default {}; '
                          'type defaults to participant.joined)')
    run.add_argument("--timeout", type=float, default=Limits.timeout,
                     help=f"wall-clock limit in seconds (default {Limits.timeout:g})")
    run.add_argument("--memory", type=int, default=Limits.memory // (1024 * 1024),
                     help=f"JS heap limit in MB (default {Limits.memory // (1024 * 1024)})")
    run.add_argument("--data", type=Path, metavar="DIR",
                     help="a local data directory for the bindings (see README)")
    run.add_argument("--account", default="local", help="the account the run belongs to")
    run.add_argument("--egress", choices=("public", "none"), default="public",
                     help="where fetch may go (default public: any public address)")
    run.add_argument("--subrequests", type=int, default=bindings.FetchLimits.subrequests,
                     help="fetch calls allowed in the run "
                          f"(default {bindings.FetchLimits.subrequests})")
    _egress_allow_flag(run)
    run.add_argument("--room-scope", metavar="ROOM",
                     help="run as a workflow scoped to this room (files are the room's)")
    run.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                     help="an environment variable for env (repeatable)")
    run.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE",
                     help="a secret for env, masked in all output (repeatable)")
    run.add_argument("--send-event", action="append", default=[], metavar="TYPE=JSON",
                     help="an event for a workflow class's step.waitForEvent of that type "
                          "(repeatable; taken in order)")
    admin.add_commands(sub)
    serve = sub.add_parser("serve", help="run the HTTP service (settings also from "
                                         "FLOWBOX_* environment variables)")
    for field in dataclasses.fields(Config):
        if field.name == "egress_allow":
            continue
        serve.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None,
                           type=converter(field),
                           help=f"(${env_name(field.name)}; default {field.default})")
    _egress_allow_flag(serve)
    return parser


def _egress_allow_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--egress-allow", dest="egress_allow", action="append", default=None,
                        metavar="HOST[:PORT]",
                        help="a host user code's fetch may reach even when its address is "
                             "private or loopback; repeatable "
                             f"(${env_name('egress_allow')}, comma-separated)")


class InputError(Exception):
    """Bad command-line input; the message says which."""


def _event(text: str, account: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"--event is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError("--event must be a JSON object")
    try:
        return bindings.make_event(account, doc.get("type", "participant.joined"),
                                   doc.get("data"))
    except bindings.InvalidEvent as exc:
        raise InputError(f"--event: {exc.field}: {exc}") from None


def _pairs(flag: str, items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"{flag} takes NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs


def _bundle(args: argparse.Namespace, data_dir: Path, limits: Limits) -> bindings.Bundle:
    event = _event(args.event, args.account)
    try:
        sources, env = localdata.load(data_dir, args.account, event)
        env = bindings.Env(vars={**env.vars, **_pairs("--var", args.var)},
                           secrets={**env.secrets, **_pairs("--secret", args.secret)})
    except (localdata.DataError, bindings.InvalidEnv) as exc:
        raise InputError(str(exc)) from None
    try:
        egress = bindings.Egress.from_flags(args.egress, args.egress_allow or ())
    except ValueError as exc:
        raise InputError(str(exc)) from None
    fetch = bindings.FetchPolicy(egress, bindings.FetchLimits(subrequests=args.subrequests))
    return bindings.build(sources, account=args.account, event=event, env=env,
                          room_scope=args.room_scope, timeout=limits.timeout, fetch=fetch)


def run_command(args: argparse.Namespace) -> int:
    try:
        source = args.file.read_text()
    except OSError as exc:
        print(f"flowbox: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USER
    try:
        limits = Limits(timeout=args.timeout, memory=args.memory * 1024 * 1024)
        if args.data is not None and not args.data.is_dir():
            raise InputError(f"--data {args.data}: no such directory")
        sent = _sent_events(args.send_event)
        with tempfile.TemporaryDirectory(prefix="flowbox-run-") as scratch:
            bundle = _bundle(args, args.data or Path(scratch), limits)
            result = _compile_and_run(args.file.name, source, bundle, limits, sent)
    except (InputError, ValueError) as exc:
        print(f"flowbox: {exc}", file=sys.stderr)
        return EXIT_USER
    if result is None:
        return EXIT_USER
    for entry in result.logs:
        print(f"[{entry.level}] {entry.message}", file=sys.stderr)
    if result.error is None:
        print(json.dumps(result.value))
        return EXIT_OK
    print(f"flowbox: {_describe(result.error)}", file=sys.stderr)
    return EXIT_LIMIT if isinstance(result.error, LimitExceeded) else EXIT_USER


def _sent_events(items: list[str]) -> list[dict[str, Any]]:
    events = []
    for item in items:
        kind, sep, text = item.partition("=")
        if not sep or not kind:
            raise InputError(f"--send-event takes TYPE=JSON, got {item!r}")
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise InputError(f"--send-event {kind}: the payload is not valid JSON: {exc}") \
                from None
        events.append({"type": kind, "payload": payload, "timestamp": time.time() * 1000})
    return events


def _compile_and_run(name: str, source: str, bundle: bindings.Bundle, limits: Limits,
                     sent: list[dict[str, Any]]) -> RunResult | None:
    with Engine(adapters=bindings.ADAPTERS) as engine:
        try:
            artifact = engine.compile(source, name)
        except CompileError as exc:
            print(f"flowbox: compile error: {exc}", file=sys.stderr)
            return None
        result = engine.run(artifact, bundle.event, capabilities=bundle.capabilities,
                            data=bundle.data, limits=limits, sent_events=sent)
    return bundle.finish(result)


def _describe(error: SandboxError) -> str:
    stack = getattr(error, "stack", None)
    return f"{error}\n{stack}" if stack else str(error)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .datalock import DataDirInUse
    from .db import DatabaseUnusable
    from .service import Service

    try:
        flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)}
        if flags["egress_allow"] is not None:
            flags["egress_allow"] = ",".join(flags["egress_allow"])
        config = from_env(**flags)
        # Bind before anything else: a port in use is one line, not a
        # "serving on" followed by uvicorn's error.
        sock = _listen(config.host, config.port)
    except (ConfigError, InputError) as exc:
        print(f"flowbox: {exc}", file=sys.stderr)
        return EXIT_USER
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    try:
        service = Service(config)
    except (DataDirInUse, DatabaseUnusable) as exc:
        sock.close()
        print(f"flowbox: {exc}", file=sys.stderr)
        return EXIT_USER
    where = "PostgreSQL" if config.database_url else f"{config.data_dir}/flowbox.db"
    print(f"flowbox: serving on http://{config.host}:{config.port} ({where}, "
          f"{config.workers} workers)", file=sys.stderr)
    # X-Forwarded-For is believed only from the proxies the operator names:
    # anyone else could rotate it to escape the per-address rate limit.
    trusted = ",".join(allow_list(config.trusted_proxies))
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning",
                                           access_log=False, proxy_headers=bool(trusted),
                                           forwarded_allow_ips=trusted or None))
    server.run(sockets=[sock])
    return EXIT_OK


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def version() -> str:
    """Flowbox's version and its engine's: QuickJS-NG and wasmtime."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from sandbox import build

    def of(name: str) -> str:
        try:
            return installed(name)
        except PackageNotFoundError:
            return "unknown"

    return (f"flowbox {of('flowbox')} (QuickJS-NG {build.QUICKJS_NG_VERSION.rsplit('.', 1)[0]} "
            f"in WebAssembly, wasmtime {of('wasmtime')})")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_command(args)
    if args.command == "serve":
        return serve(args)
    if args.command in ("keys", "sessions"):
        return admin.run(args)
    return EXIT_USER  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":
    raise SystemExit(main())
