"""Accounts and API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import migrated_database

from server.accounts import Accounts, InvalidInput, parse_scopes


@pytest.fixture(params=["sqlite", "postgres"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Accounts]:
    with migrated_database(request.param, tmp_path) as db:
        yield Accounts(db)


def test_a_key_authenticates_to_its_account_and_scopes(accounts: Accounts) -> None:
    assert accounts.ensure_account("acme") is True
    assert accounts.ensure_account("acme") is False
    key, secret = accounts.create_key("acme", ("write", "read"), name="ci")
    assert secret.startswith("fbk_") and len(secret) > 40
    found = accounts.authenticate(secret)
    assert found == key and found.scopes == ("read", "write") and found.account == "acme"


def test_only_the_hash_is_stored(accounts: Accounts) -> None:
    accounts.ensure_account("acme")
    _, secret = accounts.create_key("acme", ("read",))
    rows = accounts.db.fetchall("SELECT * FROM api_keys")
    assert secret not in repr(rows) and secret[4:] not in repr(rows)


def test_wrong_revoked_and_foreign_keys(accounts: Accounts) -> None:
    accounts.ensure_account("acme")
    accounts.ensure_account("other")
    key, secret = accounts.create_key("acme", ("read",))
    assert accounts.authenticate(secret + "x") is None
    assert accounts.authenticate("not-a-key") is None
    assert accounts.revoke("other", key.id) is False  # not its key
    assert accounts.authenticate(secret) is not None
    assert accounts.revoke("acme", key.id) is True
    assert accounts.authenticate(secret) is None


def test_bad_input_names_the_field(accounts: Accounts) -> None:
    with pytest.raises(InvalidInput) as info:
        accounts.ensure_account("../x")
    assert info.value.field == "account"
    with pytest.raises(InvalidInput) as info:
        accounts.create_key("nobody", ("read",))
    assert info.value.field == "account"
    for bad in ("", "read,admin", []):
        with pytest.raises(InvalidInput) as info:
            parse_scopes(bad)  # type: ignore[arg-type]
        assert info.value.field == "scopes"
    assert parse_scopes("deploy, read") == ("read", "deploy")
