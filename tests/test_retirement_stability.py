"""Retirement proposals on the bundled data over six consecutive monthly cut-offs: a UDR's
proposal changes at most once (no flip back), and only as its own evidence moves: a UDR newly
proposed has a decay p-value no larger than before (or was not testable before), one dropped a
larger one. Judging the last 6 months, or the whole window when those were too thin, flipped
UDR-0006 between cut-offs as its 6 months crossed the evidence floor and back."""
from __future__ import annotations

import datetime as dt
from itertools import pairwise
from pathlib import Path

import pytest

from targeting.backtest.run import project_window
from targeting.decide.policy import load_policy
from targeting.decide.retirement import judge_udrs
from targeting.project import open_project

ROOT = Path(__file__).resolve().parents[1]
CUTOFFS = 6


@pytest.fixture(scope="module")
def judged():
    project = open_project(ROOT / "targeting.yaml")
    window = project_window(project)
    policy = load_policy(project.config.promotion)
    found = []
    for back in reversed(range(CUTOFFS)):  # oldest first
        cutoff = window.last_months(back).since - dt.timedelta(days=1) if back else window.until
        found.append((cutoff, {j.rule.id: j for j in judge_udrs(
            project, project_window(project, until=cutoff), policy)}))
    return found


def test_no_proposal_flips_back(judged):
    history = {udr: [j[udr].proposed for _, j in judged] for udr in judged[-1][1]}
    for udr, proposed in history.items():
        changes = sum(a != b for a, b in pairwise(proposed))
        assert changes <= 1, (udr, [(str(c), p) for (c, _), p in zip(judged, proposed)])
    # It has teeth: over these cut-offs some UDR is proposed and some is not.
    assert any(any(p) for p in history.values()) and any(not all(p) for p in history.values())


def test_each_change_follows_the_udrs_own_evidence(judged):
    for (before_day, before), (after_day, after) in pairwise(judged):
        for udr, now in after.items():
            then = before[udr]
            if now.proposed == then.proposed or any(r.startswith("superseded") for r in
                                                    now.reasons + then.reasons):
                continue
            p_then, p_now = then.metrics["decay_p_value"], now.metrics["decay_p_value"]
            if now.proposed:
                assert p_then is None or p_now <= p_then, (udr, before_day, after_day)
            else:
                assert p_now is None or p_now >= p_then, (udr, before_day, after_day)
