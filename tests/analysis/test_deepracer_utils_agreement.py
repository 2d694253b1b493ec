"""Our summary figures equal what deepracer-utils computes on the same logs."""

from __future__ import annotations

import pytest
from analysis_helpers import shared_path

from deepracer.analysis.logs import episode_table, load_logs
from tests.deepracer_utils_loader import deepracer_utils_or_skip


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


def _as_robomaker_log(csv_files, path):
    """The console's RoboMaker log: chatter, then one `SIM_TRACE_LOG:` line per step."""
    lines = ["Using the following hyper-parameters", '{"num_episodes_between_training": 20}', "chatter"]
    for f in csv_files:
        for row in f.read_text().splitlines()[1:]:
            episode, steps, rest = row.split(",", 2)
            lines.append(f"SIM_TRACE_LOG:{episode},{int(float(steps))},{rest}\t")  # the console prints steps with %d
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_console_robomaker_log_matches(deepracer_utils, sample, tmp_path):
    csvs = [sample / "training-simtrace" / f"{i}-iteration.csv" for i in range(3)]
    log = _as_robomaker_log(csvs, tmp_path / "logs" / "training" / "training-20220709-robomaker.log")
    io = deepracer_utils.logs.SimulationLogsIO
    theirs = deepracer_utils.logs.AnalysisUtils.simulation_agg(io.load_pandas(str(log)))
    ours = episode_table(load_logs(tmp_path, quiet=True).training)
    assert len(ours) == len(theirs) == 60
    for column in ("progress", "reward", "steps", "time"):
        assert ours[column].to_numpy() == pytest.approx(theirs[column].to_numpy(), abs=1e-3), column


def test_console_export_counts_steps_once(sample, tmp_path):
    """The console's export has the simtrace CSVs and the RoboMaker log of the same run."""
    csvs = [sample / "training-simtrace" / f"{i}-iteration.csv" for i in range(2)]
    dest = tmp_path / "sim-trace" / "training" / "training-simtrace"
    dest.mkdir(parents=True)
    for f in csvs:
        (dest / f.name).write_text(f.read_text())
    _as_robomaker_log(csvs, tmp_path / "logs" / "training" / "training-robomaker.log")
    assert len(episode_table(load_logs(tmp_path, quiet=True).training)) == 40


def test_our_evaluation_reads_in_deepracer_utils(deepracer_utils, tmp_path):
    """`deepracer evaluate`'s files, loaded by deepracer-utils: the same laps and lap times."""
    from road_follower import make_road_follower

    from deepracer.analysis.evaluation import evaluate, write_outputs

    result = evaluate(make_road_follower(tmp_path / "road", speed=2.5), trials=2)
    write_outputs(result, tmp_path / "out", 17.6)
    log = deepracer_utils.logs.DeepRacerLog(str(tmp_path / "out"))
    log.load_evaluation_trace()
    agg = deepracer_utils.logs.AnalysisUtils.simulation_agg(log.dataframe(), "stream", is_eval=True)
    assert list(agg["progress"]) == [100.0, 100.0]
    assert list(agg["time"]) == pytest.approx([t.lap_time_s for t in result.trials], abs=1e-5)


def test_drfc_multiple_workers_match(deepracer_utils, sample, tmp_path):
    """DRfC with two workers (`0/`, `1/`): episodes numbered as deepracer-utils' unique_episode."""
    for worker, iterations in (("0", range(0, 3)), ("1", range(3, 6))):
        dest = tmp_path / worker / "training-simtrace"
        dest.mkdir(parents=True)
        for new, old in enumerate(iterations):  # worker 1 gets other episodes under the same iteration numbers
            (dest / f"{new}-iteration.csv").write_text((sample / "training-simtrace" / f"{old}-iteration.csv").read_text())
    log = deepracer_utils.logs.DeepRacerLog(str(tmp_path))
    log.load()
    theirs = deepracer_utils.logs.AnalysisUtils.simulation_agg(log.dataframe(), secondgroup="unique_episode")
    ours = episode_table(load_logs(tmp_path, quiet=True).training)
    assert len(ours) == len(theirs) == 120
    assert list(ours["unique_episode"]) == list(theirs["unique_episode"])
    for column in ("progress", "reward", "steps"):
        assert ours[column].to_numpy() == pytest.approx(theirs[column].to_numpy()), column
