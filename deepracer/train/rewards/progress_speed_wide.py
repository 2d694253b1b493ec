"""Progress per step, for speed, on a wider line (the bundled model's later fine-tunes).

As progress_speed.py (the progress gained on each step, an off-track step earns almost nothing,
a finished lap earns a bonus that grows the fewer steps it took), but the centre-line factor is
milder: x1 on the centre line to x0.75 at the border instead of x0.5, so that the policy may take
more of the track's width in the bends, as the racing line does (docs/training.md, "The bundled
model"). Written for the DeepRacer console: it only reads DeepRacer's params and keeps the
previous step's progress in a module variable (one simulator per process, as in DeepRacer)."""

_previous = {"progress": 0.0, "steps": 0}


def reward_function(params):
    progress = params["progress"]
    steps = params["steps"]
    if steps <= _previous["steps"] or steps <= 1:  # a new episode
        _previous["progress"] = progress
    gained = max(0.0, progress - _previous["progress"])
    _previous["progress"] = progress
    _previous["steps"] = steps
    if params["is_offtrack"]:
        return 1e-3
    half_width = 0.5 * params["track_width"]
    off_centre = min(1.0, params["distance_from_center"] / half_width)
    reward = 1e-3 + gained * (1.0 - 0.25 * off_centre)
    if progress >= 100.0:
        reward += 10000.0 / max(steps, 1)
    return float(reward)
