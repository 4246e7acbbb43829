"""Versioned schema migrations: append, never edit. Type names in braces
come from the dialect ({blob}, {float}, {text_key}: text that sorts by
code point, as object stores and Cloudflare KV list keys)."""

MIGRATIONS: list[list[str]] = [
    # 1: KV stores, rooms, users, presence
    [
        """CREATE TABLE kv (
            account TEXT NOT NULL, store TEXT NOT NULL, key {text_key} NOT NULL,
            value {blob} NOT NULL, metadata TEXT, expiration BIGINT,
            PRIMARY KEY (account, store, key))""",
        """CREATE TABLE rooms (
            account TEXT NOT NULL, id TEXT NOT NULL, name TEXT, metadata TEXT NOT NULL,
            created_at {float} NOT NULL, updated_at {float} NOT NULL,
            PRIMARY KEY (account, id))""",
        """CREATE TABLE users (
            account TEXT NOT NULL, id TEXT NOT NULL, name TEXT, email TEXT,
            metadata TEXT NOT NULL, created_at {float} NOT NULL, updated_at {float} NOT NULL,
            PRIMARY KEY (account, id))""",
        """CREATE TABLE presence (
            account TEXT NOT NULL, room_id TEXT NOT NULL, user_id TEXT NOT NULL,
            joined_at {float} NOT NULL, PRIMARY KEY (account, room_id, user_id))""",
    ],
    # 2: accounts and their API keys (stored hashed)
    [
        """CREATE TABLE accounts (
            id TEXT PRIMARY KEY, name TEXT, created_at {float} NOT NULL)""",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts (id),
            hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, name TEXT,
            created_at {float} NOT NULL, revoked_at {float})""",
    ],
]
