"""`POST /v1/admin/policy/reload`: make the server re-read its access policy now (admins).

Servers also pick up a policy edit by themselves (a changed file before the next request, a
policy database within `policy.reload_interval_seconds`); this route is for not waiting, and for
hearing at once whether the new policy is valid. An invalid one is refused with 422 and the
reason, and the last good policy stays in force.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminIdentity, PolicyAdminDep
from api.errors import InvalidRequestError, error_responses
from api.schemas import PolicyReloadResponse
from policies.access.engine import PolicyLoadError

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/policy/reload",
    summary="Re-read the access policy now: its version and rule count, or 422 and the reason "
    "(the last good policy stays in force)",
    responses=error_responses(401, 403, 422, 429, 503),
)
def reload_policy(_identity: AdminIdentity, policy: PolicyAdminDep) -> PolicyReloadResponse:
    try:
        changed = policy.reload()
    except PolicyLoadError as exc:
        served = policy.status
        raise InvalidRequestError(
            f"the policy is invalid, nothing reloaded; still serving version {served.version} "
            f"({served.rules} rules): {exc}",
            code="invalid_policy",
        ) from exc
    status = policy.status
    return PolicyReloadResponse(
        version=status.version, rules=status.rules, changed=changed, loaded_at=status.loaded_at
    )
