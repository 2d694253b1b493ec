"""The evaluation simtrace logs the chosen action in `steer`/`throttle`, as DeepRacer does."""

from __future__ import annotations

from deepracer.analysis.evaluation import evaluate, write_outputs
from deepracer.analysis.simtrace import iter_rows
from deepracer.model.metadata import ModelMetadata
from deepracer.model.reference_net import make_reference_package


def test_steer_and_throttle_are_the_chosen_actions_values(tmp_path):
    model = make_reference_package(tmp_path / "ref", seed=1)
    actions = ModelMetadata.from_file(model / "model_metadata.json").actions
    result = evaluate(model, trials=1, resets=3, max_trial_seconds=5.0, seed=0)
    trace = write_outputs(result, tmp_path / "out", track_length_m=17.6)["simtrace"]
    rows = list(iter_rows(trace))[1:]  # the first row precedes any decision
    assert len(rows) > 20
    for row in rows:
        chosen = actions[int(row["action"])]
        assert (float(row["steer"]), float(row["throttle"])) == (chosen.steering_angle, chosen.speed)
