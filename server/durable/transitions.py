"""The lifecycle of a durable instance as plain functions: which status an
action leads to from which status, and the status an activation ends in.

    queued ──claim──▶ running ──▶ complete | errored
      ▲  ▲              │  ▲
      │  └── wake_at ── waiting      (a sleep, an event wait, a retry delay)
      │
    pause: queued, waiting → paused; running → waitingForPause → paused
    resume: paused → queued (a sleep due meanwhile fires at once);
            waitingForPause → running (the pause is called off)
    terminate: anything not finished → terminated
    restart: anything → queued, with the journal cleared (or cut at a step)
"""

from __future__ import annotations

from ..errors import InvalidTransition

STATUSES = ("queued", "running", "paused", "errored", "terminated", "complete", "waiting",
            "waitingForPause", "unknown")
FINISHED = ("complete", "errored", "terminated")
ACTIVE = ("running", "waitingForPause")  # an activation holds the instance
ACTIONS = ("pause", "resume", "terminate", "restart")


def reported_status(stored: str) -> str:
    """The status the API reports for a stored one: `unknown` for a status
    this node does not know (a row written by a newer node while several
    versions share one PostgreSQL database during an upgrade)."""
    return stored if stored in STATUSES else "unknown"


def after_action(action: str, status: str) -> str:
    """The status `action` leads to from `status`; raises InvalidTransition."""
    if action == "pause":
        if status in ("queued", "waiting"):
            return "paused"
        if status == "running":
            return "waitingForPause"
        if status in ("paused", "waitingForPause"):
            return status
    elif action == "resume":
        if status == "paused":
            return "queued"
        if status == "waitingForPause":
            return "running"
    elif action == "terminate":
        if status not in FINISHED:
            return "terminated"
        raise InvalidTransition(f"the instance is already {status}: only a running, queued, "
                                "waiting or paused instance can be terminated")
    elif action == "restart":
        return "queued"
    else:
        raise InvalidTransition(f"unknown status action {action!r}; use one of "
                                f"{', '.join(ACTIONS)}")
    raise InvalidTransition(f"cannot {action} an instance that is {status}")


def after_activation(outcome: str, status: str) -> str:
    """The status an activation ending in `outcome` (complete, errored or
    waiting) leaves, given the instance's status now: a pause requested
    during the activation takes effect once it has ended."""
    if outcome == "waiting" and status == "waitingForPause":
        return "paused"
    return outcome
