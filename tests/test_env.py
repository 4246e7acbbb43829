"""`env`: variables and secrets reach user code; the literal value of a
secret is masked in everything that leaves an execution (logs, errors,
results). Masking finds literal occurrences only: a value user code
transforms (base64, reversed) leaves unrecognised, which is documented
and tested here as the limit it is."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import run_with
from test_store import NoFiles

import bindings
from bindings import Env, InvalidEnv, MemoryDirectory, MemoryKV, Sources
from sandbox import Engine, UserError

SECRET = "sk_live_9f8e7d6c"
ENV = Env(vars={"REGION": "eu", "MODE": "test"}, secrets={"API_TOKEN": SECRET})


def go(engine: Engine, source: str, env: Env = ENV) -> Any:
    event = bindings.make_event("acme", "user.created", {"userId": "u1"})
    bundle = bindings.build(Sources(MemoryKV(), MemoryDirectory(), NoFiles()), account="acme",
                            event=event, env=env)
    return run_with(engine, source, bundle)


def test_vars_and_secrets_reach_user_code(engine: Engine) -> None:
    result = go(engine, f"""export default async function(event, b) {{
      return [b.env.REGION, b.REGION, b.env.API_TOKEN === "{SECRET}", b.API_TOKEN.length, b.event.type,
              event.accountId, Object.keys(b.env).sort()];
    }}""")
    assert result.value == ["eu", "eu", True, len(SECRET), "user.created", "acme",
                            ["API_TOKEN", "MODE", "REGION"]]


def test_a_workflow_class_sees_bindings_and_vars_on_this_env(engine: Engine) -> None:
    result = go(engine, """import { WorkflowEntrypoint } from "cloudflare:workers";
    export class W extends WorkflowEntrypoint {
      async run(event, step) {
        return [this.env.REGION, typeof this.env.store.get, typeof this.env.files.put,
                this.env.API_TOKEN.length, event.type];
      }
    }""")
    assert result.value == ["eu", "function", "function", len(SECRET), "user.created"]


def test_secrets_are_masked_in_logs_errors_and_results(engine: Engine) -> None:
    result = go(engine, """export default async function(event, { env }) {
      console.log("token is", env.API_TOKEN);
      console.error({ nested: env.API_TOKEN });
      throw new Error(`bad ${env.API_TOKEN}`);
    }""")
    assert isinstance(result.error, UserError)
    assert SECRET not in repr(result.error.to_dict()) and SECRET not in (result.error.stack or "")
    assert result.error.reason == "bad [redacted]"
    assert [e.message for e in result.logs] == ["token is [redacted]", '{"nested":"[redacted]"}']
    returned = go(engine, """export default async function(event, { env }) {
      return { t: env.API_TOKEN, list: [`x${env.API_TOKEN}x`], [env.API_TOKEN]: 1, n: 5 };
    }""")
    assert returned.value == {"t": "[redacted]", "list": ["x[redacted]x"], "[redacted]": 1, "n": 5}


def test_masking_covers_literal_occurrences_only(engine: Engine) -> None:
    import base64

    result = go(engine, """export default async function(event, { env }) {
      console.log(btoa(env.API_TOKEN));
      return { encoded: btoa(env.API_TOKEN), reversed: [...env.API_TOKEN].reverse().join(""),
               literal: env.API_TOKEN };
    }""")
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert result.value == {"encoded": encoded, "reversed": SECRET[::-1], "literal": "[redacted]"}
    assert [e.message for e in result.logs] == [encoded]


def test_the_longest_secret_is_masked_whole(engine: Engine) -> None:
    env = Env(secrets={"SHORT": "abcd", "LONG": "abcdefgh"})
    result = go(engine, "export default async (e, { env }) => env.LONG + '|' + env.SHORT", env)
    assert result.value == "[redacted]|[redacted]"


def test_env_refuses_bad_names_values_and_short_secrets() -> None:
    for bad in [{"vars": {"lower": "x"}}, {"vars": {"1ST": "x"}}, {"vars": {"A-B": "x"}},
                {"vars": {"N": 5}}, {"secrets": {"S": "abc"}}]:
        with pytest.raises(InvalidEnv):
            Env(**bad)  # type: ignore[arg-type]
    assert SECRET not in repr(ENV)
