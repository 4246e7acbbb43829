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
    # 3: workflows, accepted events and their runs; settings (the artifact
    # signing key, shared by every node)
    [
        """CREATE TABLE settings (name TEXT PRIMARY KEY, value {blob} NOT NULL)""",
        """CREATE TABLE workflows (
            id TEXT PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts (id),
            name TEXT NOT NULL, code TEXT NOT NULL, artifact {blob} NOT NULL,
            events TEXT NOT NULL, room_id TEXT, enabled INTEGER NOT NULL,
            created_at {float} NOT NULL, updated_at {float} NOT NULL)""",
        "CREATE INDEX workflows_by_account ON workflows (account, created_at, id)",
        """CREATE TABLE events (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
            idempotency_key TEXT, answer TEXT NOT NULL, created_at {float} NOT NULL)""",
        "CREATE UNIQUE INDEX events_by_idempotency_key ON events (account, idempotency_key)",
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, workflow_id TEXT NOT NULL,
            event_id TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
            created_at {float} NOT NULL, started_at {float}, finished_at {float},
            lease_owner TEXT, lease_expires {float}, output TEXT, error TEXT, logs TEXT,
            UNIQUE (event_id, workflow_id))""",
        "CREATE INDEX runs_by_account ON runs (account, created_at, id)",
        "CREATE INDEX runs_by_status ON runs (status, created_at)",
    ],
    # 4: durable workflows (Cloudflare's API): Worker scripts, named
    # workflows, their instances, each instance's step journal and the
    # events sent to it
    [
        """CREATE TABLE scripts (
            account TEXT NOT NULL, name TEXT NOT NULL, main_module TEXT NOT NULL,
            code TEXT NOT NULL, artifact {blob} NOT NULL, env TEXT NOT NULL,
            created_at {float} NOT NULL, updated_at {float} NOT NULL,
            PRIMARY KEY (account, name))""",
        """CREATE TABLE durable_workflows (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,
            script_name TEXT NOT NULL, class_name TEXT NOT NULL, version_id TEXT NOT NULL,
            settings TEXT NOT NULL, created_at {float} NOT NULL, modified_at {float} NOT NULL,
            triggered_on {float}, UNIQUE (account, name))""",
        """CREATE TABLE instances (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, workflow_id TEXT NOT NULL,
            name TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
            trigger TEXT NOT NULL, version_id TEXT NOT NULL, created_at {float} NOT NULL,
            started_at {float}, ended_at {float}, modified_at {float} NOT NULL,
            wake_at {float}, owner TEXT, lease_expires {float}, output TEXT, error TEXT,
            activations INTEGER NOT NULL, success_retention {float}, error_retention {float},
            expires_at {float}, UNIQUE (workflow_id, name))""",
        "CREATE INDEX instances_due ON instances (status, wake_at)",
        "CREATE INDEX instances_by_workflow ON instances (workflow_id, created_at, id)",
        "CREATE INDEX instances_expiring ON instances (expires_at)",
        """CREATE TABLE instance_steps (
            instance TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
            record TEXT NOT NULL, PRIMARY KEY (instance, key))""",
        """CREATE TABLE instance_events (
            instance TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
            payload TEXT NOT NULL, created_at {float} NOT NULL, PRIMARY KEY (instance, seq))""",
    ],
    # 5: the platform API (seed 003): projects, workflows and functions with
    # their versions and deployments, account env vars, storage connections;
    # API keys get a project scope, an expiry and a kind (key or session)
    [
        """CREATE TABLE projects (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, slug TEXT NOT NULL,
            description TEXT NOT NULL, created_at {float} NOT NULL, updated_at {float} NOT NULL,
            UNIQUE (account, slug))""",
        """CREATE TABLE platform_workflows (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, project_id TEXT NOT NULL,
            name TEXT NOT NULL, description TEXT NOT NULL, kind TEXT NOT NULL,
            env_vars TEXT NOT NULL, trigger_code TEXT, dependencies TEXT NOT NULL,
            deploy_config TEXT NOT NULL, active_version_id TEXT,
            created_at {float} NOT NULL, updated_at {float} NOT NULL)""",
        "CREATE INDEX platform_workflows_by_account ON platform_workflows "
        "(account, created_at, id)",
        """CREATE TABLE versions (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, workflow_id TEXT NOT NULL,
            number INTEGER NOT NULL, language TEXT NOT NULL, source TEXT NOT NULL,
            artifact {blob} NOT NULL, locked INTEGER NOT NULL, reverted_from TEXT,
            created_at {float} NOT NULL, UNIQUE (workflow_id, number))""",
        """CREATE TABLE deployments (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, workflow_id TEXT NOT NULL,
            version_id TEXT NOT NULL, connection_id TEXT, status TEXT NOT NULL,
            stage TEXT NOT NULL, error TEXT, created_at {float} NOT NULL,
            finished_at {float})""",
        "CREATE INDEX deployments_by_account ON deployments (account, created_at, id)",
        """CREATE TABLE env_vars (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
            is_secret INTEGER NOT NULL, created_at {float} NOT NULL,
            updated_at {float} NOT NULL, UNIQUE (account, name))""",
        """CREATE TABLE connections (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,
            provider TEXT NOT NULL, credentials TEXT NOT NULL, created_at {float} NOT NULL,
            updated_at {float} NOT NULL)""",
        "ALTER TABLE api_keys ADD COLUMN project_id TEXT",
        "ALTER TABLE api_keys ADD COLUMN expires_at {float}",
        "ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'key'",
    ],
    # 6: scripts of several modules; workflow versions, so that an instance
    # runs the code it started with whatever is deployed later; a deploy's
    # heartbeat, so that one cut off by a crash is failed within a minute
    [
        "ALTER TABLE deployments ADD COLUMN alive_at {float}",
        "ALTER TABLE scripts ADD COLUMN modules TEXT",
        """CREATE TABLE workflow_versions (
            id TEXT PRIMARY KEY, account TEXT NOT NULL, workflow_id TEXT NOT NULL,
            script_name TEXT NOT NULL, class_name TEXT NOT NULL, main_module TEXT NOT NULL,
            code TEXT NOT NULL, modules TEXT, artifact {blob} NOT NULL, env TEXT NOT NULL,
            created_at {float} NOT NULL)""",
        "CREATE INDEX workflow_versions_by_workflow ON workflow_versions (workflow_id)",
        "CREATE INDEX instances_by_version ON instances (version_id)",
    ],
]
