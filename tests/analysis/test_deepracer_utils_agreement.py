"""Our summary figures equal what deepracer-utils computes on the same logs."""

from __future__ import annotations

import pytest
from analysis_helpers import deepracer_utils_or_skip, shared_path

from deepracer.analysis.logs import episode_table, load_logs


@pytest.fixture(scope="module")
def deepracer_utils():
    return deepracer_utils_or_skip()


@pytest.fixture(scope="module")
def sample():
    return shared_path("deepracer-logs", "drfc-sample")


def test_training_aggregates_match(deepracer_utils, sample):
    log = deepracer_utils.logs.DeepRacerLog(str(sample))
    log.load()
    theirs = deepracer_utils.logs.AnalysisUtils.simulation_agg(log.dataframe(), secondgroup="unique_episode")
    ours = episode_table(load_logs(sample, quiet=True).training)
    assert len(ours) == len(theirs)
    assert ours["iteration"].nunique() == theirs["iteration"].nunique()
    for column in ("steps", "progress", "time", "reward", "speed", "complete", "dist"):
        assert ours[column].to_numpy() == pytest.approx(theirs[column].to_numpy(), rel=1e-9, abs=1e-9), column


def test_evaluation_aggregates_match(deepracer_utils, sample):
    log = deepracer_utils.logs.DeepRacerLog(str(sample))
    log.load_evaluation_trace()
    theirs = deepracer_utils.logs.AnalysisUtils.simulation_agg(log.dataframe(), "stream", is_eval=True)
    ours = episode_table(load_logs(sample, quiet=True).evaluation, is_eval=True)
    assert len(ours) == len(theirs)
    for column in ("progress", "time", "off_track", "steps"):
        assert ours[column].to_numpy() == pytest.approx(theirs[column].to_numpy()), column
