"""The threat-model quiz of 01_threat_models: read a scenario, pick a box and a goal, check.

The checking is :func:`advcourse.foundations.threat_models.grade` (pure, tested on its own); this module only
wires it to ipywidgets. :func:`render_scenario` gives the HTML the quiz shows for a scenario.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

from advcourse.foundations.threat_models import BOXES, GOALS, SCENARIOS, get_scenario, grade
from advcourse.widgets import app_box, live_note

__all__ = ["render_scenario", "render_feedback", "quiz_app"]


def render_scenario(key: str) -> str:
    """The scenario's story as HTML (incidents also name their source)."""
    s = get_scenario(key)
    source = f"<br><small>Source: <a href='{s.url}'>{html.escape(s.source)}</a></small>" if s.source else ""
    return f"<p style='max-width:46em'><b>{html.escape(s.title)}.</b> {html.escape(s.story)}{source}</p>"


def render_feedback(key: str, box: str | None, goal: str | None) -> str:
    """The verdict of :func:`grade` for a (possibly incomplete) answer, as HTML."""
    answer = ... if box is None or goal is None else (box, goal)
    return grade(key, answer)._repr_html_()


def quiz_app(keys: Sequence[str] | None = None):
    """A scenario picker, two toggles (box, goal), a Check button and the feedback, with a score.

    Args:
        keys: the scenarios to ask about (default: all of :data:`SCENARIOS`, in order).

    Returns:
        An ``ipywidgets.VBox``; its ``.controls`` attribute maps ``"scenario"``, ``"box"``,
        ``"goal"``, ``"check"``, ``"feedback"`` and ``"score"`` to the widgets (handy in tests).
    """
    import ipywidgets as W

    keys = list(SCENARIOS) if keys is None else [get_scenario(k).key for k in keys]
    scenario = W.Dropdown(options=[(SCENARIOS[k].title, k) for k in keys], description="scenario")
    story = W.HTML(render_scenario(keys[0]))
    box = W.ToggleButtons(options=[(f"{b} box", b) for b in BOXES], value=None, description="knowledge")
    goal = W.ToggleButtons(options=list(GOALS), value=None, description="goal")
    check = W.Button(description="Check", button_style="primary")
    feedback = W.HTML("")
    score = W.HTML("")
    solved: set[str] = set()

    def new_scenario(change: Any) -> None:
        story.value = render_scenario(change["new"])
        box.value = goal.value = None
        feedback.value = ""

    def on_check(_button: Any) -> None:
        if box.value is not None and goal.value is not None and grade(scenario.value, (box.value, goal.value)):
            solved.add(scenario.value)
        feedback.value = render_feedback(scenario.value, box.value, goal.value)
        score.value = f"<small>solved {len(solved)} of {len(keys)} scenarios</small>"

    scenario.observe(new_scenario, "value")
    check.on_click(on_check)
    app = app_box([scenario, story, box, goal, W.HBox([check, score]), live_note(), feedback])
    app.controls = {"scenario": scenario, "box": box, "goal": goal, "check": check, "feedback": feedback,
                    "score": score}
    return app
