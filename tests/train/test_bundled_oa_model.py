"""The bundled object-avoidance model passes DeepRacer's three default boxes and still does time trials."""

from __future__ import annotations

import pytest

from deepracer.paths import REPO_ROOT

BUNDLED = REPO_ROOT / "models" / "deepracer-object-avoidance.tar.gz"


@pytest.fixture(scope="module")
def model():
    if not BUNDLED.is_file():
        pytest.fail(f"{BUNDLED} is missing: see docs/training.md for the command that makes it")
    return BUNDLED


def test_passes_three_default_boxes_in_at_least_two_of_three_trials(model):
    from deepracer.analysis.evaluation import evaluate
    from deepracer.sim.objects import RaceConfig, RaceType

    result = evaluate(model, trials=3, race=RaceConfig(RaceType.OBJECT_AVOIDANCE))
    clean = [t for t in result.trials if t.completed and t.crashes == 0]
    assert len(clean) >= 2, [(t.status, t.crashes, t.progress) for t in result.trials]
    assert result.race["obstacles"]["count"] == 3


def test_still_completes_time_trials(model):
    from deepracer.analysis.evaluation import evaluate

    result = evaluate(model, trials=3)
    assert sum(t.completed for t in result.trials) >= 2
