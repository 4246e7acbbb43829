"""Who may call a route: a Bearer API key of the path's account with the
route's scope. No key is 401; another account's path is 404, exactly as if
it did not exist; a missing scope is 403; then the key's rate limit."""

from __future__ import annotations

from .accounts import Accounts, ApiKey
from .errors import Forbidden, NotFound, RateLimited, Unauthorized
from .ratelimit import Limiter


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>",
                           "Authorization")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <key>'", "Authorization")
    return token.strip()


def authorize(accounts: Accounts, header: str | None, account: str, scope: str,
              limiter: Limiter | None = None) -> ApiKey:
    """The caller's key, checked for `account` and `scope`."""
    key = accounts.authenticate(bearer(header))
    if key is None:
        raise Unauthorized("invalid or revoked API key", "Authorization")
    if key.account != account:
        raise NotFound(f"no account {account!r}", "accountId")
    permit(key, scope, limiter)
    return key


def permit(key: ApiKey, scope: str, limiter: Limiter | None = None, kind: str = "") -> None:
    """Checks that `key` has `scope`, then spends one of the key's `kind`
    requests from `limiter`."""
    if scope not in key.scopes:
        raise Forbidden(f"this API key lacks the {scope!r} scope", "Authorization",
                        required_scope=scope)
    if limiter is not None:
        wait = limiter.take(key.id)
        if wait:
            raise RateLimited(f"rate limit of {int(limiter.capacity)} {kind}requests per minute "
                              "for this API key exceeded", wait)


def project_key_refused(project_id: str, why: str) -> str:
    """The message a key scoped to one project gets where it may not go."""
    return (f"this API key is scoped to project {project_id!r} and {why}: use a key "
            "without a project (POST /api/api-keys) or the operator's session")
