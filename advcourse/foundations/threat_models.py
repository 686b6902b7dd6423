"""Threat models: what an attacker knows and what they want. Taught in 01_threat_models.

Two questions place any attack on an image classifier:

* **knowledge** — a *white-box* attacker has the model itself (weights, hence gradients); a
  *black-box* attacker can at most query it (see labels or scores) or does not touch it at all;
* **goal** — an *untargeted* attacker wants any wrong label; a *targeted* attacker wants one
  particular label of their choosing.

This module holds the course's material on that idea as data and small pure functions:
:class:`ThreatModel` and :func:`threat_model_of` (the rule), :data:`SCENARIOS` (real incidents and
made-up cases for the quiz), :func:`grade` (the quiz's check), :func:`taxonomy_table` (every attack
of :data:`advcourse.attacks.ATTACKS` placed in the taxonomy, built from the registry's metadata so it
cannot drift) and three figures.
"""

from __future__ import annotations

import html
import importlib
import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from matplotlib.figure import Figure

from advcourse.attacks import ATTACKS, AttackSpec
from advcourse.core.feedback import Feedback, failed, is_unanswered, passed
from advcourse.core.viz import figure_function, new_figure

__all__ = [
    "BOXES", "GOALS", "ACCESS", "ThreatModel", "threat_model_of", "parse_threat_model", "Scenario",
    "SCENARIOS", "INCIDENTS", "get_scenario", "grade", "usable_attacks", "TaxonomyRow", "TaxonomyTable",
    "taxonomy_table", "knowledge_figure", "goal_figure", "taxonomy_figure", "ATTACK_CLASSES",
]

BOXES = ("white", "black")
GOALS = ("untargeted", "targeted")

#: What the attacker can see of the model -> which box that makes. Weights give gradients (white);
#: scores or labels come from queries only, and "nothing" means the model is never touched (black).
ACCESS: dict[str, str] = {"weights": "white", "scores": "black", "labels": "black", "nothing": "black"}

#: NIST AI 100-2's attack classes and the notebooks that teach each: *evasion* changes an input at
#: test time, *poisoning* changes the training data, *privacy* extracts what a model gives away. The
#: README's course map, the site's and notebook 01's table are checked against it (tests/test_notebooks.py).
ATTACK_CLASSES: dict[str, str] = {
    "00_welcome": "— (setup)", "01_threat_models": "evasion (the vocabulary)", "02_noise": "evasion",
    "03_semantic": "evasion", "04_gradients": "evasion", "05_fgsm": "evasion", "06_pgd": "evasion",
    "07_deepfool": "evasion", "08_defences": "evasion", "09_black_box": "evasion",
    "10_physical_world": "evasion", "11_evaluation": "evasion", "12_poisoning": "poisoning",
    "13_privacy": "privacy",
}

_BOX_QUESTION = "does the attacker have the model's weights, or only its answers?"
_GOAL_QUESTION = "does any wrong answer help the attacker, or only one chosen in advance?"


# ----------------------------------------------------------------------------- the rule
@dataclass(frozen=True)
class ThreatModel:
    """One cell of the taxonomy: ``box`` in :data:`BOXES`, ``goal`` in :data:`GOALS`."""

    box: str
    goal: str

    def __post_init__(self) -> None:
        if self.box not in BOXES:
            raise ValueError(f"box: expected one of {BOXES}, got {self.box!r}")
        if self.goal not in GOALS:
            raise ValueError(f"goal: expected one of {GOALS}, got {self.goal!r}")

    def __str__(self) -> str:
        return f"{self.box} box, {self.goal}"


def threat_model_of(sees: str, wants: str | None) -> ThreatModel:
    """The threat model of an attacker who ``sees`` part of the model and ``wants`` a label.

    Args:
        sees: one of :data:`ACCESS` — ``"weights"``, ``"scores"``, ``"labels"`` or ``"nothing"``.
        wants: the class the attacker wants the model to output, or ``None`` for "anything but
            the right one".

    Example:
        >>> str(threat_model_of("weights", "rifle"))
        'white box, targeted'
    """
    if sees not in ACCESS:
        raise ValueError(f"sees: expected one of {', '.join(ACCESS)}, got {sees!r}")
    if wants is not None and not isinstance(wants, str):
        raise TypeError(f"wants: expected a class name (str) or None, got {type(wants).__name__}")
    return ThreatModel(ACCESS[sees], "untargeted" if wants is None else "targeted")


def parse_threat_model(answer: Any) -> ThreatModel:
    """Read a learner's answer: a :class:`ThreatModel`, a pair ``("white", "targeted")`` or a
    string such as ``"black box, untargeted"``. Raises ``ValueError`` naming what is missing."""
    if isinstance(answer, ThreatModel):
        return answer
    if isinstance(answer, (tuple, list)):
        if len(answer) != 2:
            raise ValueError(f"answer: expected a pair (box, goal), got {len(answer)} items")
        answer = " ".join(str(a) for a in answer)
    if not isinstance(answer, str):
        raise TypeError(f"answer: expected a pair such as ('white', 'targeted') or a string, got {type(answer).__name__}")
    words = set(re.findall(r"[a-z]+", answer.lower()))
    boxes = [b for b in BOXES if b in words]
    goals = [g for g in GOALS if g in words]
    if len(boxes) != 1:
        raise ValueError(f"answer: name exactly one of 'white' or 'black' (box), got {answer!r}")
    if len(goals) != 1:
        raise ValueError(f"answer: name exactly one of 'untargeted' or 'targeted' (goal), got {answer!r}")
    return ThreatModel(boxes[0], goals[0])


# ----------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    """A situation to place in the taxonomy: a real incident (``source`` set) or a made-up case.

    Attributes:
        key: short identifier; title: a few words; story: what happens, in the course's words.
        sees: what the attacker has of the model (a key of :data:`ACCESS`).
        wants: the label the attacker is after, or None (any wrong label).
        why: one or two sentences explaining the answer.
        source: citation of the paper or report (incidents only); url: where to read it.
    """

    key: str
    title: str
    story: str
    sees: str
    wants: str | None
    why: str
    source: str = ""
    url: str = ""

    @property
    def threat(self) -> ThreatModel:
        return threat_model_of(self.sees, self.wants)

    def _repr_html_(self) -> str:
        cite = f' <a href="{self.url}">{html.escape(self.source)}</a>' if self.source else ""
        return f"<p><b>{html.escape(self.title)}.</b> {html.escape(self.story)}{cite}</p>"

    def __str__(self) -> str:
        return f"{self.title}. {self.story}" + (f" ({self.source})" if self.source else "")


_SCENARIOS = (
    Scenario(
        "stop_sign", "Stickers on a stop sign",
        "Researchers stuck a few black and white strips of tape on a real stop sign, placed where a "
        "road-sign classifier was most sensitive. Filmed from a moving car, the sign was read as a "
        "45 mph speed-limit sign in most frames, while people saw graffiti on a stop sign.",
        "weights", "Speed Limit 45",
        "The sticker layout was optimised with the gradients of the classifier (white box), and the "
        "attack counted only when the sign read as a speed limit (targeted).",
        "Eykholt et al., CVPR 2018, arXiv:1707.08945", "https://arxiv.org/abs/1707.08945"),
    Scenario(
        "lane_stickers", "Stickers on the road",
        "A security lab placed three small stickers on the tarmac of a test track. The lane-detection "
        "network of a car's driver-assistance system saw a lane marking that was not there, bending "
        "towards the oncoming lane, and the car steered along it.",
        "weights", "a lane bending left",
        "The lab worked from the network it had extracted from the car's own software (white box), "
        "and designed the stickers to make the car see one specific fake lane (targeted).",
        "Tencent Keen Security Lab, 2019, 'Experimental Security Research of Tesla Autopilot'",
        "https://keenlab.tencent.com/en/2019/03/29/Tencent-Keen-Security-Lab-Experimental-Security-Research-of-Tesla-Autopilot/"),
    Scenario(
        "turtle", "A 3-D printed turtle",
        "A toy turtle was 3-D printed with a subtly altered texture. An ImageNet classifier called it "
        "a rifle from almost every angle, distance and lighting the authors filmed it in.",
        "weights", "rifle",
        "The texture was optimised through the classifier's gradients, averaged over many random "
        "views (white box), towards the class 'rifle' (targeted).",
        "Athalye et al., ICML 2018, arXiv:1707.07397", "https://arxiv.org/abs/1707.07397"),
    Scenario(
        "person_patch", "A patch that hides a person",
        "A printed patch about the size of a poster, held in front of the body, made a standard "
        "person detector stop drawing a box around the person holding it.",
        "weights", None,
        "The patch was optimised with the detector's gradients (white box) to push the 'person' "
        "score down; what the detector sees instead does not matter (untargeted).",
        "Thys, Van Ranst & Goedemé, CVPR Workshops 2019, arXiv:1904.08653", "https://arxiv.org/abs/1904.08653"),
    Scenario(
        "cloud_labels", "A photo-tagging web service",
        "A web service tags uploaded photos and returns only its top label. Someone keeps editing a "
        "photo of a knife and re-uploading it until the tag is no longer 'knife'.",
        "labels", None,
        "Only the service's answers are visible (black box), and any tag other than 'knife' is a "
        "success (untargeted)."),
    Scenario(
        "open_face_model", "An open-source face unlock",
        "A phone maker publishes the face-recognition network its phones use. An attacker downloads "
        "it and designs printed glasses so that the phone unlocks for them as if they were its owner.",
        "weights", "the phone's owner",
        "The published network gives the attacker its weights and gradients (white box), and only "
        "being recognised as one particular person unlocks the phone (targeted)."),
    Scenario(
        "scores_api", "A moderation API with scores",
        "A moderation API returns a probability for each of its twenty categories. An attacker "
        "queries it thousands of times, nudging a picture until the category 'cartoon' comes out on top.",
        "scores", "cartoon",
        "Scores are outputs, not weights: the attacker estimates where to go from many queries "
        "(black box), aiming at one chosen category (targeted)."),
    Scenario(
        "random_static", "Static on a picture",
        "Someone adds random static to a photo before posting it, without ever running or querying "
        "any model, hoping that an automatic filter will get the photo wrong.",
        "nothing", None,
        "No model is used at all (black box), and any wrong answer of the filter would do "
        "(untargeted): this is the noise attack of 02_noise."),
    Scenario(
        "transfer", "An attack carried over from a copy",
        "An attacker trains their own copy of a service's classifier, computes a PGD example on the "
        "copy, and uploads it to the real service, which they cannot inspect, hoping to get 'golf ball'.",
        "labels", "golf ball",
        "The threat model is judged against the attacked system: the real service is only queried "
        "(black box, even though the copy is white box to its owner), and one class is wanted (targeted)."),
)

#: Every scenario by key: the four real incidents first, then made-up cases.
SCENARIOS: dict[str, Scenario] = {s.key: s for s in _SCENARIOS}
#: The real incidents (those with a source).
INCIDENTS: list[Scenario] = [s for s in _SCENARIOS if s.source]


def get_scenario(key: str | Scenario) -> Scenario:
    """The :class:`Scenario` called ``key``; ``ValueError`` lists the choices."""
    if isinstance(key, Scenario):
        return key
    if not isinstance(key, str):
        raise TypeError(f"scenario: expected a scenario key (str) or a Scenario, got {type(key).__name__}")
    if key not in SCENARIOS:
        raise ValueError(f"scenario: unknown key {key!r}; choose one of {', '.join(SCENARIOS)}")
    return SCENARIOS[key]


def grade(scenario: str | Scenario, answer: Any) -> Feedback:
    """Check an answer to "which threat model is this?" and explain the verdict.

    Args:
        scenario: a key of :data:`SCENARIOS` or a :class:`Scenario`.
        answer: anything :func:`parse_threat_model` reads, or ``...`` for "not answered yet".

    Returns:
        :class:`~advcourse.core.feedback.Feedback` — truthy when both halves are right; the message
        says which half is wrong and why.
    """
    s = get_scenario(scenario)
    if is_unanswered(answer):
        return failed("pick a box (white or black) and a goal (untargeted or targeted)")
    try:
        given = parse_threat_model(answer)
    except (TypeError, ValueError) as err:
        return failed(str(err).removeprefix("answer: "))
    truth = s.threat
    if given == truth:
        return passed(f"{truth}. {s.why}")
    wrong = []
    if given.box != truth.box:
        wrong.append(f"not {given.box} box: {_BOX_QUESTION}")
    if given.goal != truth.goal:
        wrong.append(f"not {given.goal}: {_GOAL_QUESTION}")
    text = "; ".join(wrong)
    return failed(text if text.endswith("?") else text + ".")


def usable_attacks(threat: ThreatModel | Any) -> set[str]:
    """Names of the course's attacks an attacker with this threat model can run.

    A white-box attacker can run every attack; a black-box one only those that need no model
    internals. A targeted goal needs an attack that supports ``targeted=True``.
    """
    threat = parse_threat_model(threat)
    return {
        name for name, spec in ATTACKS.items()
        if (threat.box == "white" or spec.box == "black") and (threat.goal == "untargeted" or spec.targeted)
    }


# ----------------------------------------------------------------------------- the table
def _notebook_of(spec: AttackSpec) -> str:
    """The notebook named by "Taught in NN_name" in the attack module's docstring ("" if none)."""
    doc = importlib.import_module(spec.fn.__module__).__doc__ or ""
    found = re.search(r"Taught in (\d\d_\w+)", doc)
    return found.group(1) if found else ""


def _norm_names(norms: Iterable[float]) -> str:
    names = ["L∞" if p == float("inf") else f"L{int(p)}" for p in norms]
    return ", ".join(names) if names else "—"


@dataclass(frozen=True)
class TaxonomyRow:
    """One attack placed in the taxonomy (all text, ready to print)."""

    attack: str
    box: str
    goal: str
    norms: str
    queries: str
    paper: str
    year: int
    notebook: str
    summary: str


class TaxonomyTable(list):
    """A list of :class:`TaxonomyRow` that shows as an HTML table in a notebook and as text elsewhere."""

    columns = ("attack", "knowledge", "goal", "budget", "uses the model", "paper", "notebook")

    def _cells(self, r: TaxonomyRow) -> tuple[str, ...]:
        return (r.attack, f"{r.box} box", r.goal, r.norms, r.queries, f"{r.paper} ({r.year})", r.notebook)

    def __str__(self) -> str:
        rows = [self.columns] + [self._cells(r) for r in self]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.columns))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {"white": "#dde7f5", "black": "#3a3a3a"}
        text = {"white": "#1b2a41", "black": "#ffffff"}
        head = "".join(f"<th style='text-align:left;padding:4px 8px'>{c}</th>" for c in self.columns)
        body = []
        for r in self:
            badge = (f"<span style='background:{colour[r.box]};color:{text[r.box]};padding:1px 6px;"
                     f"border-radius:8px'>{r.box} box</span>")
            link = f"<a href='{r.notebook}.ipynb'>{r.notebook}</a>" if r.notebook else "—"
            cells = (f"<b>{r.attack}</b><br><small>{html.escape(r.summary)}</small>", badge, r.goal, r.norms,
                     r.queries, f"{html.escape(r.paper)} ({r.year})", link)
            body.append("<tr>" + "".join(f"<td style='text-align:left;padding:4px 8px;vertical-align:top'>{c}</td>"
                                         for c in cells) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def taxonomy_table(attacks: dict[str, AttackSpec] | None = None) -> TaxonomyTable:
    """Every attack of the registry (default :data:`advcourse.attacks.ATTACKS`) as a taxonomy row.

    Everything comes from the registry's metadata and the attack modules' docstrings, so adding
    an attack to the registry adds a row here.
    """
    attacks = ATTACKS if attacks is None else attacks
    return TaxonomyTable(
        TaxonomyRow(
            attack=spec.name, box=spec.box,
            goal="untargeted or targeted" if spec.targeted else "untargeted",
            norms=_norm_names(spec.norms),
            queries="gradients" if spec.needs_model and spec.box == "white" else
                    ("queries" if spec.needs_model else "no"),
            paper=spec.paper, year=spec.year, notebook=_notebook_of(spec), summary=spec.summary,
        )
        for spec in attacks.values()
    )


# ----------------------------------------------------------------------------- figures
@figure_function
def knowledge_figure() -> Figure:
    """A ladder of what an attacker can see, from nothing to the weights, split into black/white box."""
    levels = [
        ("nothing", "never touches the model", "noise, semantic"),
        ("labels", "sees the top answer of each query", "a photo-tagging service"),
        ("scores", "sees every class probability", "a moderation API"),
        ("weights", "has the network: gradients for free", "fgsm, pgd, deepfool"),
    ]
    fig = new_figure(8.0, 3.4)
    ax = fig.subplots()
    for i, (name, what, example) in enumerate(levels):
        box = ACCESS[name]
        ax.barh(i, 1.0, color="#3a3a3a" if box == "black" else "#dde7f5", edgecolor="#1b2a41")
        tc = "white" if box == "black" else "#1b2a41"
        ax.text(0.02, i, f"{name}", va="center", fontsize=11, fontweight="bold", color=tc)
        ax.text(0.22, i, f"{what}\ne.g. {example}", va="center", color=tc, linespacing=1.3)
    ax.annotate("", xy=(1.06, 3.3), xytext=(1.06, -0.3), annotation_clip=False,
                arrowprops={"arrowstyle": "->", "lw": 1.5})
    ax.text(1.09, 1.5, "more knowledge", rotation=90, va="center")
    ax.set_yticks([0.5, 3], ["black box", "white box"])
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    ax.set_title("What the attacker can see of the model")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return fig


@figure_function
def goal_figure() -> Figure:
    """A toy 2-D classifier with four classes: an untargeted attack crosses the nearest boundary,
    a targeted attack must travel to the region of its chosen class."""
    centres = np.array([[0.0, 0.0], [2.2, 0.3], [-0.4, 2.1], [2.4, 2.6]])
    names = ["cat (true)", "dog", "fox", "toaster"]
    grid = np.stack(np.meshgrid(np.linspace(-1.5, 4, 300), np.linspace(-1.5, 4, 300)), -1)
    region = np.argmin(((grid[..., None, :] - centres) ** 2).sum(-1), -1)
    x = np.array([0.7, 0.5])
    fig = new_figure(8.0, 3.6)
    axes = fig.subplots(1, 2)
    for ax, title, end, target in ((axes[0], "untargeted: any wrong side", np.array([1.25, 0.55]), None),
                                   (axes[1], "targeted: one chosen region", np.array([1.5, 2.1]), 3)):
        ax.contourf(grid[..., 0], grid[..., 1], region, levels=np.arange(-0.5, 4), colors=["#c6dbef", "#fdd0a2",
                                                                                              "#c7e9c0", "#dadaeb"])
        for k, (c, n) in enumerate(zip(centres, names)):
            ax.text(*c, f"{n} (target)" if k == target else n, ha="center")
        ax.plot(*x, "ko")
        ax.annotate("", xy=end, xytext=x, arrowprops={"arrowstyle": "->", "lw": 2, "color": "#b30000"})
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


@figure_function
def taxonomy_figure() -> Figure:
    """The 2×2 taxonomy with the course's attacks (from the registry) and the real incidents."""
    fig = new_figure(8.0, 4.6)
    ax = fig.subplots()
    cells: dict[tuple[str, str], list[str]] = {(b, g): [] for b in BOXES for g in GOALS}
    for spec in ATTACKS.values():
        cells[(spec.box, "untargeted")].append(spec.name)
        if spec.targeted:
            cells[(spec.box, "targeted")].append(spec.name)
    for s in INCIDENTS:
        cells[(s.threat.box, s.threat.goal)].append(f"“{s.title.lower()}”")
    for i, box in enumerate(BOXES):
        for j, goal in enumerate(GOALS):
            ax.add_patch(_rect(i, 1 - j, "#dde7f5" if box == "white" else "#4a4a4a"))
            tc = "#1b2a41" if box == "white" else "white"
            text = "\n".join(cells[(box, goal)]) or _EMPTY_CELL
            ax.text(i + 0.5, 1 - j + 0.5, text, ha="center", va="center", color=tc)
    ax.set_xlim(0, 2)
    ax.set_ylim(0, 2)
    ax.set_xticks([0.5, 1.5], ["white box (has the weights)", "black box (queries or nothing)"])
    ax.set_yticks([1.5, 0.5], ["untargeted\n(any wrong label)", "targeted\n(a chosen label)"])
    ax.tick_params(length=0)
    ax.set_title("The course's attacks and the real incidents in the taxonomy")
    return fig


_EMPTY_CELL = "no attack of this course\n(query-based and transfer\nattacks live here)"


def _rect(x: float, y: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x + 0.01, y + 0.01), 0.98, 0.98, facecolor=colour, edgecolor="white")
