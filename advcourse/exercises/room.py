"""Room progress (opt-in): each exercise check a learner runs is reported to the workshop's server.

During a workshop the instructor's challenge server (``advcourse challenge serve``) counts, per notebook
and exercise, how many learners have run the check and how many passed; its page ``/room`` shows
where the room is stuck. Nothing is sent unless the learner joins the room:

    >>> from advcourse.exercises.room import join_room
    >>> join_room("http://192.168.1.10:8000", "ABCD-EFGH-JKMN-PQRS", learner="Ada")

Only the check's name, its notebook, pass or fail and the learner's name travel — never the answer.
"""

from __future__ import annotations

import functools
import getpass
import json
import socket
import warnings
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from advcourse.challenge.client import ChallengeError, call, check_server

__all__ = ["NOTEBOOKS", "exercise", "join_room", "leave_room"]

#: The notebook each exercise module belongs to.
NOTEBOOKS = {"threat_models": "01_threat_models", "noise": "02_noise", "semantic": "03_semantic",
             "gradients": "04_gradients", "fgsm": "05_fgsm", "pgd": "06_pgd", "deepfool": "07_deepfool",
             "defences": "08_defences", "black_box": "09_black_box", "physical": "10_physical_world",
             "evaluation": "11_evaluation", "poisoning": "12_poisoning", "privacy": "13_privacy"}

Check = TypeVar("Check", bound=Callable[..., Any])


@dataclass
class _Room:
    url: str
    token: str
    learner: str


_room: _Room | None = None


def join_room(url: str, token: str, learner: str | None = None) -> str:
    """Report every exercise check from now on to the server at ``url``, under your team's join code ``token``.

    ``learner``: your name as the instructor will count it (1 to 40 characters; default ``user@computer``).
    Returns the team's name; raises :class:`~advcourse.challenge.ChallengeError` if the server refuses
    the code or cannot be reached. :func:`leave_room` stops reporting.
    """
    global _room
    url, token = check_server(url, token)
    if learner is None:
        learner = f"{getpass.getuser()}@{socket.gethostname()}"[:40]
    if not isinstance(learner, str) or not 1 <= len(learner.strip()) <= 40 or not learner.isprintable():
        raise ValueError(f"learner: expected 1 to 40 printable characters, got {learner!r}")
    team = json.loads(call(f"{url}/api/team", token=token, timeout=5))["team"]
    _room = _Room(url, token, learner.strip())
    return team


def leave_room() -> None:
    """Stop reporting exercise checks."""
    global _room
    _room = None


def _report(notebook: str, exercise: str, ok: bool) -> None:
    global _room
    room = _room
    if room is None:
        return
    body = json.dumps({"learner": room.learner, "notebook": notebook, "exercise": exercise, "passed": ok})
    try:
        call(f"{room.url}/api/progress", data=body.encode(), token=room.token, timeout=3,
                 content_type="application/json")
    except ChallengeError as err:  # never let the room break a learner's exercise
        _room = None
        warnings.warn(f"room: progress reporting stopped ({err}); call join_room again to resume", stacklevel=3)


def exercise(check: Check) -> Check:
    """Mark ``check`` (a ``check_…`` function of ``advcourse/exercises/<module>.py``) as a course exercise:
    when the learner has joined a room, each verdict it returns is reported."""
    notebook = NOTEBOOKS[check.__module__.rsplit(".", 1)[-1]]

    @functools.wraps(check)
    def reported(*args: Any, **kwargs: Any) -> Any:
        verdict = check(*args, **kwargs)
        _report(notebook, check.__name__, bool(verdict))
        return verdict

    reported.notebook = notebook  # type: ignore[attr-defined]
    return reported  # type: ignore[return-value]
