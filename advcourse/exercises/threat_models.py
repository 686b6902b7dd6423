"""Checked exercises of 01_threat_models.

    >>> check_app_store(answer)        # the threat model of the app-store scenario
    >>> check_usable_attacks(answer)   # which course attacks that attacker can run
"""

from __future__ import annotations

from typing import Any

from advcourse.attacks import ATTACKS
from advcourse.exercises import Feedback, failed, is_unanswered, passed
from advcourse.exercises.room import exercise
from advcourse.foundations.threat_models import Scenario, get_scenario, grade, usable_attacks

__all__ = ["APP_STORE", "check_app_store", "check_usable_attacks"]

#: The exercise scenario (not part of the quiz, so the quiz does not give it away).
APP_STORE = Scenario(
    "app_store", "An icon scanner inside an app",
    "An app store checks every uploaded icon with an image classifier, and the same network ships "
    "inside the store's phone app, where anyone can unpack its weights. A cheat wants the icon of a "
    "gambling app to be classified as 'puzzle game', the one category that skips human review.",
    "weights", "puzzle game",
    "The weights can be unpacked from the app, so gradients are available (white box), and only the "
    "category 'puzzle game' helps the cheat (targeted).",
)


@exercise
def check_app_store(answer: Any) -> Feedback:
    """Is ``answer`` the threat model of :data:`APP_STORE`? (a pair such as ``("black", "untargeted")``)"""
    return grade(APP_STORE, answer)


@exercise
def check_usable_attacks(answer: Any, scenario: Scenario = APP_STORE) -> Feedback:
    """Is ``answer`` the set of the course's attacks (names in ``ATTACKS``) the attacker of
    ``scenario`` can use to reach their goal? The truth comes from :func:`usable_attacks`."""
    scenario = get_scenario(scenario)
    if is_unanswered(answer):
        return failed("replace ... with a set of attack names from the table above, e.g. {'name_1', 'name_2'}")
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return failed(f"give a set of attack names such as {{'name_1', 'name_2'}}, not a {type(answer).__name__}")
    given = {str(a).strip().lower() for a in answer}
    unknown = given - set(ATTACKS)
    if unknown:
        return failed(f"not attacks of the course: {', '.join(sorted(unknown))}; choose from {', '.join(ATTACKS)}")
    truth = usable_attacks(scenario.threat)
    if given == truth:
        return passed(f"{', '.join(sorted(truth))}: a {scenario.threat} attacker can run exactly these.")
    hints = []
    for name in sorted(given - truth):
        spec = ATTACKS[name]
        if scenario.threat.goal == "targeted" and not spec.targeted:
            hints.append(f"{name} cannot aim at a chosen class")
        else:
            hints.append(f"{name} needs the model's gradients, which this attacker does not have")
    if truth - given:
        hints.append(f"{len(truth - given)} usable attack(s) missing: look at the 'knowledge' and 'goal' columns")
    return failed("; ".join(hints) + ".")
