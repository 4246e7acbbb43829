"""Adapters: JavaScript that shapes a capability's raw host methods into
the API user code sees, registered once per engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Engine, GuestCrash
from tests.helpers import Recorder

# Captures a pristine built-in at registration: user code that replaces it
# later must not change what the adapter does.
DOUBLER = """(() => {
  const stringify = JSON.stringify;
  return (raw) => Object.freeze({
    async twice(x) { return (await raw.echo(x)) * 2; },
    describe(x) { return stringify({x}); },
  });
})()"""


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    cache = tmp_path_factory.mktemp("cache")
    with Engine(cache_dir=cache, adapters={"doubler": DOUBLER}) as engine:
        yield engine


def test_an_adapter_shapes_the_capability(adapted: Engine) -> None:
    echo = Recorder({"echo": lambda x: x})
    echo.adapter = "doubler"
    art = adapted.compile("""export default async function(event, { num }) {
      JSON.stringify = () => "patched";
      return [await num.twice(21), num.describe(1), Object.isFrozen(num), typeof num.echo];
    }""")
    result = adapted.run(art, None, capabilities={"num": echo})
    assert result.error is None, result.error
    assert result.value == [42, '{"x":1}', True, "undefined"]
    assert echo.calls == [("echo", [21])]


def test_adapters_are_out_of_reach_of_user_code(adapted: Engine) -> None:
    art = adapted.compile("export default async () => Object.getOwnPropertyNames(globalThis)"
                          ".filter(n => /adapt|doubler/i.test(n))")
    assert adapted.run(art).value == []


def test_a_capability_without_its_adapter_is_refused(engine: Engine) -> None:
    echo = Recorder({"echo": 1})
    echo.adapter = "doubler"
    art = engine.compile("export default async () => 1")
    with pytest.raises(ValueError, match="adapter 'doubler'"):
        engine.run(art, None, capabilities={"num": echo})


def test_a_broken_adapter_fails_engine_start_naming_it(tmp_path: Path) -> None:
    with pytest.raises(GuestCrash, match="adapter 'broken' does not load: SyntaxError"):
        Engine(cache_dir=tmp_path, adapters={"broken": "(raw) => {"})
    with pytest.raises(GuestCrash, match=r"adapter 'value'.*function"):
        Engine(cache_dir=tmp_path, adapters={"value": "42"})
