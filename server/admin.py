"""The operator's commands on the database itself, without a server:

    flowbox keys create --account ID [--scopes read,write,deploy] [--name NAME]
    flowbox keys list --account ID [--json]
    flowbox keys revoke KEY_ID --account ID
    flowbox sessions create --account ID [--hours H]
    flowbox sessions list --account ID [--json]
    flowbox sessions revoke SESSION_ID --account ID

each with [--data-dir DIR | --database-url URL]. Problems (bad input, a
database that cannot be used) are one line on stderr and exit status 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bindings import iso_time

from .accounts import Accounts, InvalidInput, parse_scopes
from .db import DatabaseUnusable, open_database

EXIT_OK, EXIT_USER = 0, 1


def database_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("FLOWBOX_DATA_DIR", "data")),
                        help="where the embedded SQLite database lives (default ./data, "
                             "or $FLOWBOX_DATA_DIR)")
    parser.add_argument("--database-url", default=os.environ.get("FLOWBOX_DATABASE_URL"),
                        help="a postgresql:// URL to use instead of SQLite "
                             "(or $FLOWBOX_DATABASE_URL)")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `keys` and `sessions` commands, on the main parser."""
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command",
                                                                         required=True)
    create = keys.add_parser("create", help="create an API key (and the account when new); "
                                            "prints the key once")
    create.add_argument("--account", required=True, help="the account the key belongs to")
    create.add_argument("--scopes", default="read",
                        help="comma-separated: read, write, deploy (default read)")
    create.add_argument("--name", help="a label for the key")
    database_flags(create)
    _list_and_revoke(keys, "API key", "keys")
    sessions = sub.add_parser("sessions", help="the operator's own credential").add_subparsers(
        dest="sessions_command", required=True)
    session = sessions.add_parser("create", help="create a session for an account (and the "
                                                 "account when new); prints it once")
    session.add_argument("--account", required=True, help="the account to operate")
    session.add_argument("--hours", type=float, default=24.0,
                         help="how long the session lasts (default 24)")
    database_flags(session)
    _list_and_revoke(sessions, "session", "sessions")


def _list_and_revoke(group: argparse._SubParsersAction[argparse.ArgumentParser], what: str,
                     command: str) -> None:
    """`list` and `revoke` of keys or sessions: the same flags for both."""
    listing = group.add_parser("list", help=f"the account's {what}s (never their secrets)")
    listing.add_argument("--account", required=True)
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    database_flags(listing)
    revoke = group.add_parser("revoke", help=f"revoke the {what} at once; servers refuse it "
                                             "within 5 s")
    revoke.add_argument("key_id", help=f"the {what}'s id ({command} list shows it)")
    revoke.add_argument("--account", required=True)
    database_flags(revoke)


def run(args: argparse.Namespace) -> int:
    """Runs a `keys` or `sessions` command."""
    if (args.command == "sessions" and args.sessions_command == "create"
            and not 0 < args.hours <= 24 * 365):
        print("flowbox: --hours must be more than 0 and at most a year", file=sys.stderr)
        return EXIT_USER
    try:
        accounts = Accounts(open_database(args.data_dir, args.database_url))
        if args.command == "sessions":
            return {"create": _session, "list": _list, "revoke": _revoke}[
                args.sessions_command](accounts, args)
        return {"create": _create, "list": _list, "revoke": _revoke}[args.keys_command](
            accounts, args)
    except InvalidInput as exc:
        print(f"flowbox: {exc.field}: {exc}", file=sys.stderr)
    except DatabaseUnusable as exc:
        print(f"flowbox: {exc}", file=sys.stderr)
    return EXIT_USER


def _create(accounts: Accounts, args: argparse.Namespace) -> int:
    scopes = parse_scopes(args.scopes)
    created = accounts.ensure_account(args.account)
    key, secret = accounts.create_key(args.account, scopes, args.name)
    if created:
        print(f"created account {args.account}", file=sys.stderr)
    print(f"created key {key.id} for account {key.account} with scopes "
          f"{','.join(key.scopes)}; it is shown once, keep it now:", file=sys.stderr)
    print(secret)
    return EXIT_OK


def _list(accounts: Accounts, args: argparse.Namespace) -> int:
    sessions = args.command == "sessions"
    keys = accounts.sessions(args.account) if sessions else accounts.keys(args.account)
    rows: list[dict[str, Any]] = [
        {"id": k.id, "name": k.name, "scopes": list(k.scopes), "projectId": k.project_id,
         "createdAt": iso_time(k.created_at),
         "expiresAt": iso_time(k.expires_at) if k.expires_at else None,
         "revokedAt": iso_time(k.revoked_at) if k.revoked_at else None,
         "expired": k.expired(time.time())} for k in keys]
    if args.json:
        print(json.dumps(rows))
        return EXIT_OK
    if not rows:
        print(f"account {args.account} has no {'sessions' if sessions else 'API keys'}",
              file=sys.stderr)
    for r in rows:
        state = (f"revoked {r['revokedAt']}" if r["revokedAt"]
                 else "expired" if r["expired"] else "active")
        print(f"{r['id']}  {','.join(r['scopes']):<18} {state:<32} created {r['createdAt']}"
              f"  {r['name'] or ''}".rstrip())
    return EXIT_OK


def _revoke(accounts: Accounts, args: argparse.Namespace) -> int:
    kind = "session" if args.command == "sessions" else "key"
    if not accounts.revoke(args.account, args.key_id, kind):
        print(f"flowbox: account {args.account} has no active {kind} {args.key_id}",
              file=sys.stderr)
        return EXIT_USER
    print(f"revoked {kind} {args.key_id}; servers refuse it within 5 s", file=sys.stderr)
    return EXIT_OK


def _session(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.ensure_account(args.account)
    session, secret = accounts.create_session(args.account, args.hours * 3600)
    print(f"created session {session.id} for account {session.account}, valid for "
          f"{args.hours:g} hours; it is shown once, keep it now:", file=sys.stderr)
    print(secret)
    return EXIT_OK
