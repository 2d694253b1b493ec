"""Progress per step, for speed (the bundled model's reward).

The reward of a step is the track progress (in %) it gained, so a faster car earns the same
total sooner and PPO's discount turns that into speed; it is scaled down the farther the car is
from the centre line (x1 on the line, x0.5 at the border), which keeps the policy on a line the
camera sees well; an off-track step earns almost nothing (and ends the episode); a finished
lap earns a bonus that grows the fewer steps it took. Written for the DeepRacer console: it
only reads DeepRacer's params and keeps the previous step's progress in a module variable
(one simulator per process, as in DeepRacer)."""

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
    reward = 1e-3 + gained * (1.0 - 0.5 * off_centre)
    if progress >= 100.0:
        reward += 10000.0 / max(steps, 1)
    return float(reward)
