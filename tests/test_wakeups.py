"""Wake-ups that must not be lost: an event sent while the instance's
activation is still running wakes it as soon as that activation suspends,
not at the wait's timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import cloudflare
import pytest
from live import live_server

ACCOUNT = "wake"
RACE = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

export class Race extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const [got, slow] = await Promise.all([
      step.waitForEvent("go", { type: "go", timeout: "30 seconds" }),
      step.do("slow", async () => { await scheduler.wait(1500); return "slow done"; }),
    ]);
    return { got: got.payload, slow };
  }
}
"""


def parse_time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(
        str(value).replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def cf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudflare.Cloudflare]:
    with live_server(tmp_path_factory.mktemp("wake")) as live:
        client = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                       base_url=live.url + "/client/v4", max_retries=0)
        client.workers.scripts.update("race", account_id=ACCOUNT,
                                      metadata={"main_module": "index.ts"},
                                      files=[("index.ts", RACE.encode(),
                                              "application/javascript+module")])
        client.workflows.update("race", account_id=ACCOUNT, class_name="Race",
                                script_name="race")
        yield client
        client.close()


def test_an_event_sent_during_the_activation_wakes_the_instance(cf: cloudflare.Cloudflare) -> None:
    ids = [f"race-{i}" for i in range(3)]
    for instance in ids:
        cf.workflows.instances.create("race", account_id=ACCOUNT, instance_id=instance)
    for instance in ids:  # each while its slow step runs, in the same activation as the wait
        deadline = time.monotonic() + 10
        while True:
            got = cf.workflows.instances.get(instance, account_id=ACCOUNT, workflow_name="race")
            if got.status == "running" and got.steps:
                break
            assert time.monotonic() < deadline, f"{instance} never ran: {got.status}"
            time.sleep(0.02)
        time.sleep(0.3)
        got = cf.workflows.instances.get(instance, account_id=ACCOUNT, workflow_name="race")
        assert got.status == "running", "the event must arrive during the activation"
        cf.workflows.instances.events.create("go", account_id=ACCOUNT, workflow_name="race",
                                             instance_id=instance, body={"n": instance})
    for instance in ids:
        deadline = time.monotonic() + 10  # the wait's timeout is 30 s
        while True:
            got = cf.workflows.instances.get(instance, account_id=ACCOUNT, workflow_name="race")
            if got.status == "complete":
                break
            assert got.status in ("running", "waiting", "queued"), (instance, got.error)
            assert time.monotonic() < deadline, f"{instance} still {got.status}: lost wake-up"
            time.sleep(0.05)
        assert got.output == {"got": {"n": instance}, "slow": "slow done"}
        # Woken at once when the activation suspended, not by a later sweep.
        [slow] = [s for s in got.steps if s.type == "step" and s.name == "slow"]
        gap = (parse_time(got.end) - parse_time(slow.end)).total_seconds()
        assert 0 <= gap < 1.0, (instance, gap)


SLEEPY = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

export class Sleepy extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<{ ms: number }>, step: WorkflowStep) {
    const planned = await step.do("plan", async () => Date.now() + event.payload.ms);
    await step.sleep("s", event.payload.ms);
    return await step.do("woke", async () => Date.now() - planned);
  }
}
"""


def test_short_sleeps_that_suspend_resume_on_time(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With no keepalive every sleep suspends the instance: each wakes on
    the timer its own activation set, well before the 5 s sweep."""
    with live_server(tmp_path_factory.mktemp("sleepy"), step_keepalive=0.0) as live:
        cf = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                   base_url=live.url + "/client/v4", max_retries=0)
        cf.workers.scripts.update("sleepy", account_id=ACCOUNT, metadata={"main_module": "i.ts"},
                                  files=[("i.ts", SLEEPY.encode(), "application/javascript+module")])
        cf.workflows.update("sleepy", account_id=ACCOUNT, class_name="Sleepy",
                            script_name="sleepy")
        sleeps = [1, 5, 300, 1000, 1, 1500]
        for i, ms in enumerate(sleeps):
            cf.workflows.instances.create("sleepy", account_id=ACCOUNT, instance_id=f"z{i}",
                                          params={"ms": ms})
            time.sleep(0.3)
        late = []
        for i in range(len(sleeps)):
            deadline = time.monotonic() + 15
            while (got := cf.workflows.instances.get(f"z{i}", account_id=ACCOUNT,
                                                      workflow_name="sleepy")).status != "complete":
                assert got.status not in ("errored", "terminated"), got.error
                assert time.monotonic() < deadline, f"z{i} still {got.status}"
                time.sleep(0.05)
            late.append(got.output)
        cf.close()
    assert all(0 <= ms < 500 for ms in late), late
