"""Which submit refusals every other submit would meet too, read from the API's error body.

A per-day quota (``google.rpc.QuotaFailure`` naming a ``...PerDay...`` quota), an unknown or
retired model (404 on ``predictLongRunning``) and a key the API refuses (400 with reason
``API_KEY_INVALID``, 401, 403) do not go away by sending again: they become a
:class:`~veo3_adapter.errors.BatchStoppingError`, and the orchestrator sends no more jobs.
On Vertex AI the same holds for credentials refused (401), a principal without permission
(403 ``PERMISSION_DENIED``) and a project without the API enabled (403, reason
``SERVICE_DISABLED``): :func:`vertex_submit_refusal` says which, and what to do.
Nothing here imports the SDK: it reads the status code and the JSON body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._secrets import KEY_VARIABLES
from .errors import BatchStoppingError, QuotaExhaustedError, SubmitError
from .models import DEFAULT_MODEL
from .retry import error_details

__all__ = ["is_daily_quota", "submit_refusal", "vertex_submit_refusal"]

_KEY_STATUS = frozenset({401, 403})


def is_daily_quota(body: Mapping[str, Any] | None) -> bool:
    """True when a 429's ``QuotaFailure`` names a per-day quota (``quotaId`` with ``PerDay``).

    Google Cloud APIs (Vertex AI) name it in a ``google.rpc.ErrorInfo`` instead, as its
    ``quota_limit`` metadata. Without either, or with per-minute quotas only, the limit
    clears by itself and the request is worth sending again after the wait the body asks for.
    """
    for failure in error_details(body, "google.rpc.QuotaFailure"):
        violations = failure.get("violations")
        for violation in violations if isinstance(violations, list) else []:
            if isinstance(violation, Mapping) and "PerDay" in str(violation.get("quotaId", "")):
                return True
    for info in error_details(body, "google.rpc.ErrorInfo"):
        metadata = info.get("metadata")
        if isinstance(metadata, Mapping) and "PerDay" in str(metadata.get("quota_limit", "")):
            return True
    return False


def _reasons(body: Mapping[str, Any] | None) -> list[str]:
    return [str(info.get("reason", "")) for info in error_details(body, "google.rpc.ErrorInfo")]


def _key_refused(code: int, body: Mapping[str, Any] | None) -> bool:
    if code in _KEY_STATUS:
        return True
    return code == 400 and any(reason.startswith("API_KEY_") for reason in _reasons(body))


def submit_refusal(
    what: str, model: str, code: int, described: str, body: Mapping[str, Any] | None
) -> SubmitError:
    """The error for a refused submit: ``what`` names it, ``described`` is the API's answer.

    ``described`` must already be free of secrets ("HTTP 404 NOT_FOUND: models/x is not
    found ..."); it is quoted as is, after a sentence that says what to do.
    """
    if code == 429 and is_daily_quota(body):
        return QuotaExhaustedError(
            f"{what} was refused: the per-day quota is used up ({described}). Every submit "
            "is refused until it resets at midnight Pacific time: run resume then, or raise "
            "the quota",
            status_code=code,
        )
    if code == 404:
        return BatchStoppingError(
            f"{what} was refused: model {model!r} is unknown or retired on this API "
            f"({described}). Use a current model id such as {DEFAULT_MODEL!r} (the adapter's "
            "model= or the job's 'model' option), then run resume",
            status_code=code,
        )
    if _key_refused(code, body):
        return BatchStoppingError(
            f"{what} was refused: the API key was not accepted ({described}). Set a valid "
            f"key allowed to use the Gemini API ({' or '.join(KEY_VARIABLES)}, or api_key=), "
            "then run resume",
            status_code=code,
        )
    return SubmitError(f"{what} was refused: {described}", status_code=code)


def vertex_submit_refusal(
    what: str,
    model: str,
    code: int,
    described: str,
    body: Mapping[str, Any] | None,
    *,
    project: str | None,
    express: bool,
) -> SubmitError:
    """:func:`submit_refusal` for Vertex AI: credentials and project problems named as such.

    ``project`` names the project in the advice (``None`` in express mode, where the key
    stands for it); quotas and unknown models read as on the Gemini API.
    """
    where = f"project {project!r}" if project else "the key's project"
    if code == 403 and "SERVICE_DISABLED" in _reasons(body):
        return BatchStoppingError(
            f"{what} was refused: the Vertex AI API is not enabled on {where} ({described}). "
            "Enable aiplatform.googleapis.com for it (gcloud services enable "
            "aiplatform.googleapis.com), wait a few minutes, then run resume",
            status_code=code,
        )
    if express and _key_refused(code, body):
        return BatchStoppingError(
            f"{what} was refused: the API key was not accepted by Vertex AI ({described}). "
            "Use a Vertex AI express mode key "
            f"({' or '.join(KEY_VARIABLES)}, or api_key=), then run resume",
            status_code=code,
        )
    if code == 401:
        return BatchStoppingError(
            f"{what} was refused: the Google Cloud credentials were not accepted "
            f"({described}). Renew them (gcloud auth application-default login) or pass "
            "credentials=, then run resume",
            status_code=code,
        )
    if code == 403:
        return BatchStoppingError(
            f"{what} was refused: the credentials may not use Veo on {where} ({described}). "
            "Grant their principal the Vertex AI User role (roles/aiplatform.user, permission "
            "aiplatform.endpoints.predict) on it, then run resume",
            status_code=code,
        )
    return submit_refusal(what, model, code, described, body)
