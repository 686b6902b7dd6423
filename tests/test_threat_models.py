"""The threat-model taxonomy, scenarios, quiz grading, table, figures, quiz app and 01 exercises."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from advcourse.foundations import threat_models as T
from advcourse.attacks import ATTACKS, AttackSpec
from advcourse.exercises.threat_models import APP_STORE, check_app_store, check_usable_attacks
from advcourse.widgets.threat_models import quiz_app, render_feedback, render_scenario


def test_threat_model_of_follows_what_the_attacker_sees_and_wants():
    assert T.threat_model_of("weights", "rifle") == T.ThreatModel("white", "targeted")
    assert T.threat_model_of("scores", None) == T.ThreatModel("black", "untargeted")
    assert T.threat_model_of("nothing", None).box == "black"
    assert str(T.threat_model_of("labels", "cat")) == "black box, targeted"
    with pytest.raises(ValueError, match="sees"):
        T.threat_model_of("gradients?", None)
    with pytest.raises(TypeError, match="wants"):
        T.threat_model_of("weights", 3)
    with pytest.raises(ValueError, match="box"):
        T.ThreatModel("grey", "targeted")


@pytest.mark.parametrize("answer", [("white", "targeted"), ["White", "Targeted"], "white box, targeted",
                                    "a WHITE-box attack that is targeted", T.ThreatModel("white", "targeted")])
def test_parse_threat_model_reads_pairs_and_sentences(answer):
    assert T.parse_threat_model(answer) == T.ThreatModel("white", "targeted")


@pytest.mark.parametrize("answer, message", [("white", "goal"), ("white black targeted", "box"),
                                             ("black targeted untargeted", "goal"), (("white",), "pair"),
                                             (42, "pair")])
def test_parse_threat_model_names_what_is_missing(answer, message):
    with pytest.raises((ValueError, TypeError), match=message):
        T.parse_threat_model(answer)


def test_untargeted_is_not_read_as_targeted():
    assert T.parse_threat_model("black box untargeted").goal == "untargeted"


def test_scenarios_cover_every_cell_and_the_four_incidents():
    assert {s.key for s in T.INCIDENTS} == {"stop_sign", "lane_stickers", "turtle", "person_patch"}
    assert all(s.url.startswith("https://") for s in T.INCIDENTS)
    cells = {(s.threat.box, s.threat.goal) for s in T.SCENARIOS.values()}
    assert cells == {(b, g) for b in T.BOXES for g in T.GOALS}
    assert T.get_scenario("turtle").threat == T.ThreatModel("white", "targeted")
    with pytest.raises(ValueError, match="turtel"):
        T.get_scenario("turtel")


@pytest.mark.parametrize("key", list(T.SCENARIOS))
def test_grade_accepts_the_right_answer_and_explains_wrong_ones(key):
    s = T.SCENARIOS[key]
    right = (s.threat.box, s.threat.goal)
    ok = T.grade(key, right)
    assert ok and s.why in ok.message
    other_box = "black" if right[0] == "white" else "white"
    other_goal = "untargeted" if right[1] == "targeted" else "targeted"
    wrong_box = T.grade(key, (other_box, right[1]))
    # a wrong half is named with a question that nudges, never with the right answer
    assert not wrong_box and f"not {other_box} box" in wrong_box.message and "weights" in wrong_box.message
    assert f"{right[0]} box" not in wrong_box.message and "targeted" not in wrong_box.message
    wrong_goal = T.grade(key, (right[0], other_goal))
    assert not wrong_goal and f"not {other_goal}:" in wrong_goal.message and "box" not in wrong_goal.message
    assert f"it is {right[1]}" not in wrong_goal.message
    assert not T.grade(key, (other_box, other_goal))


def test_grade_handles_unanswered_and_unreadable_answers():
    assert "pick a box" in T.grade("turtle", ...).message
    bad = T.grade("turtle", "grey box")
    assert not bad and "white" in bad.message


def test_usable_attacks_follow_the_registry():
    assert T.usable_attacks(("black", "untargeted")) == {n for n, s in ATTACKS.items() if s.box == "black"}
    assert T.usable_attacks(("white", "untargeted")) == set(ATTACKS)
    assert T.usable_attacks(("white", "targeted")) == {n for n, s in ATTACKS.items() if s.targeted}
    assert T.usable_attacks(("black", "targeted")) == {n for n, s in ATTACKS.items()
                                                       if s.targeted and s.box == "black"}


def test_taxonomy_table_has_one_row_per_registered_attack():
    table = T.taxonomy_table()
    assert [r.attack for r in table] == list(ATTACKS)
    for row in table:
        spec = ATTACKS[row.attack]
        assert row.box == spec.box and ("targeted" in row.goal.replace("untargeted", "")) == spec.targeted
        assert row.notebook[:2].isdigit() and row.notebook[3:] and str(spec.year) in T.TaxonomyTable([row])._repr_html_()
    assert table[0].notebook == "02_noise" and "L∞" in table[0].norms
    text = str(table)
    assert text.splitlines()[0].startswith("attack") and len(text.splitlines()) == len(ATTACKS) + 1
    html = table._repr_html_()
    assert html.count("<tr>") == len(ATTACKS) + 1 and "05_fgsm.ipynb" in html


def test_taxonomy_table_follows_a_changed_registry():
    extra = AttackSpec("mine", len, "black", True, (2.0,), "Me, arXiv:0000.00000", 2030, True, "A made-up attack.")
    table = T.taxonomy_table({"mine": extra})
    assert len(table) == 1 and table[0].goal == "untargeted or targeted" and table[0].queries == "queries"
    assert table[0].norms == "L2" and table[0].notebook == ""


@pytest.mark.parametrize("make", [T.knowledge_figure, T.goal_figure, T.taxonomy_figure])
def test_figures_are_figures(make):
    fig = make()
    assert isinstance(fig, Figure) and fig.axes


def test_taxonomy_figure_places_every_attack_and_incident():
    text = " ".join(t.get_text() for t in T.taxonomy_figure().axes[0].texts)
    for name in ATTACKS:
        assert name in text
    for s in T.INCIDENTS:
        assert s.title.lower() in text


def test_render_scenario_and_feedback():
    assert "Athalye" in render_scenario("turtle") and "3-D printed turtle" in render_scenario("turtle")
    assert "Source" not in render_scenario("cloud_labels")
    assert "correct" in render_feedback("turtle", "white", "targeted")
    assert "not yet" in render_feedback("turtle", "black", "targeted")
    assert "pick a box" in render_feedback("turtle", None, "targeted")


def test_quiz_app_checks_answers_and_keeps_score():
    app = quiz_app()
    c = app.controls
    c["scenario"].value = "turtle"
    assert "turtle" in app.children[1].value
    c["box"].value, c["goal"].value = "black", "untargeted"
    c["check"].click()
    assert "not yet" in c["feedback"].value and "solved 0 of" in c["score"].value
    c["box"].value, c["goal"].value = "white", "targeted"
    c["check"].click()
    assert "correct" in c["feedback"].value and f"solved 1 of {len(T.SCENARIOS)}" in c["score"].value
    c["scenario"].value = "cloud_labels"  # a new scenario clears the answer and the verdict
    assert c["box"].value is None and c["feedback"].value == "" and "knife" in app.children[1].value
    c["check"].click()
    assert "pick a box" in c["feedback"].value


def test_quiz_app_with_a_subset():
    app = quiz_app(["turtle", "transfer"])
    assert [v for _, v in app.controls["scenario"].options] == ["turtle", "transfer"]
    with pytest.raises(ValueError):
        quiz_app(["nope"])


def test_check_app_store():
    assert check_app_store(("white", "targeted"))
    assert not check_app_store(("black", "targeted"))
    assert not check_app_store(...)
    assert APP_STORE.key not in T.SCENARIOS  # the quiz does not give the exercise away


def test_check_usable_attacks():
    truth = T.usable_attacks(APP_STORE.threat)
    assert truth == {"fgsm", "pgd", "mifgsm", "square", "simba", "hopskipjump", "apgd", "cw"}
    assert check_usable_attacks(truth) and check_usable_attacks([a.upper() for a in truth])
    too_many = check_usable_attacks(truth | {"deepfool"})
    assert not too_many and "deepfool cannot aim" in too_many.message
    missing = check_usable_attacks(truth - {"pgd"})
    assert not missing and "1 usable attack(s) missing" in missing.message
    assert "not attacks of the course" in check_usable_attacks({"fgsm", "carlini"}).message
    assert not check_usable_attacks("fgsm") and not check_usable_attacks(...)
    black = T.Scenario("b", "b", "b", "labels", None, "b")
    hint = check_usable_attacks({"noise", "semantic", "fgsm"}, black)
    assert not hint and "fgsm needs the model's gradients" in hint.message
