"""An operation's life as both API dialects (Gemini API, Vertex AI) answer it.

A submit body is read the same way (``instances[0].prompt``, ``parameters``), and a poll
walks the same script: scripted failures first, then running answers, then done, with the
operation's error or, through the dialect, its video. What differs (wording, resource
names, the finished answer's shape) is passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ._scenario import Scenario
from ._state import OperationState, State
from ._wire import Reply, google_error, json_reply

__all__ = ["Headers", "poll_reply", "submit_request"]

Headers = Sequence[tuple[str, str]]
"""A request's headers, in order, repeated names kept."""


def submit_request(body: bytes, *, undecodable: str) -> tuple[str, dict[str, Any]] | Reply:
    """The prompt and ``parameters`` of a submit body, or the 400 that refuses it.

    ``undecodable`` is the message for a body that is not JSON at all.
    """
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return google_error(400, undecodable)
    if not isinstance(payload, dict):
        return google_error(400, "Invalid JSON payload received. Expected an object.")
    instances = payload.get("instances")
    instance = instances[0] if isinstance(instances, list) and instances else None
    prompt = instance.get("prompt") if isinstance(instance, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        return google_error(400, "instances[0].prompt is required and must not be empty.")
    parameters = payload.get("parameters", {})
    if not isinstance(parameters, dict):
        return google_error(400, "Invalid JSON payload received. 'parameters' is not an object.")
    return prompt, parameters


def poll_reply(
    state: State,
    name: str,
    *,
    not_found: Reply,
    failure: Callable[[int, Scenario, str], Reply],
    response: Callable[[OperationState], dict[str, Any]],
) -> Reply:
    """The answer to one poll of operation ``name``, counted.

    ``failure(status, scenario, model)`` words a scripted failure; ``response(operation)``
    is the finished operation's ``response`` (asked only when it ends without an error).
    """
    with state.lock:
        operation = state.operations.get(name)
        if operation is None:
            return not_found
        operation.polls += 1
        scenario = operation.scenario
        if operation.poll_failures_served < len(scenario.poll_failures):
            status = scenario.poll_failures[operation.poll_failures_served]
            operation.poll_failures_served += 1
            return failure(status, scenario, operation.model)
        if operation.running_answered < scenario.running_polls:
            operation.running_answered += 1
            return json_reply(200, {"name": name})
        if operation.done_at is None:
            operation.done_at = state.clock()
        if scenario.operation_error is not None:
            error = {"code": 3, "message": scenario.operation_error, "status": "INVALID_ARGUMENT"}
            return json_reply(200, {"name": name, "done": True, "error": error})
        return json_reply(200, {"name": name, "done": True, "response": response(operation)})
