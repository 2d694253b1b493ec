"""A reward function's dry run over a short scripted drive, like the console's Validate button.

The drive covers what training will ask of the function: the start line, a stretch of
pure-pursuit driving with every steering angle, the car near the edge, off the track, facing
backwards, and the track driven in the reverse direction. Any exception or bad value raises
RewardFunctionError (file, line, params) before training starts.
"""

from __future__ import annotations

import math
from typing import Any

from deepracer.train.reward import VALIDATION_TIMEOUT_S, RewardFunction


def validate_reward(reward: RewardFunction, track: str | None = None,
                    timeout_s: float | None = VALIDATION_TIMEOUT_S, race: Any = None) -> list[tuple[str, float]]:
    """Run every situation, each call within `timeout_s`; returns (situation, reward) pairs or
    raises RewardFunctionError. With `race` (a RaceConfig of object avoidance or head-to-bot) the
    drive has the race's objects on the track and adds situations beside, between and in them."""
    with reward.limited(timeout_s):
        return _situations(reward, track, race)


def _situations(reward: RewardFunction, track: str | None, race: Any = None) -> list[tuple[str, float]]:
    from deepracer.sim import SimConfig, Simulator
    from deepracer.sim.pure_pursuit import PurePursuitDriver

    name = (track or "").split(",")[0] or None
    report: list[tuple[str, float]] = []
    extra = race.sim_fields() if race is not None else {}
    for reverse in (False, True):
        sim = Simulator(SimConfig(track=name, randomize=False, off_track="end", reverse_direction=reverse, **extra)
                        if name else SimConfig(randomize=False, off_track="end", reverse_direction=reverse, **extra))
        tr = sim.track
        half = tr.width_m / 2
        tag = "reversed track: " if reverse else ""
        sim.reset(0)
        report.append((f"{tag}start line", reward(sim.reward_params())))
        if reverse:
            continue
        driver = PurePursuitDriver(tr)
        for i in range(24):  # a short drive, then the steering extremes
            steer, speed = driver.command(sim.state)
            if i >= 20:
                steer = (-30.0, 30.0, 0.0, 15.0)[i - 20]
            sim.step(steer, speed)
            report.append((f"drive step {i + 1}", reward(sim.reward_params())))
            if sim.done:
                break
        quarter = tr.n // 4
        for label, lateral, heading in (
            ("near the left edge", 0.8 * half, 0.0), ("near the right edge", -0.8 * half, 0.0),
            ("off track", half + 0.25, 0.0), ("facing backwards", 0.0, math.pi),
        ):
            sim.reset(quarter, lateral_m=lateral, heading_offset_rad=heading)
            sim.step(0.0, 0.5)
            report.append((label, reward(sim.reward_params())))
        if sim.objects is not None:
            report += _object_situations(sim, reward)
    return report


def _object_situations(sim: Any, reward: RewardFunction) -> list[tuple[str, float]]:
    """Beside each object, just behind it, and driven into it until the crash (is_crashed)."""
    import numpy as np

    tr, out = sim.track, []
    for k in range(len(sim.objects.items)):
        sim.reset(0)  # re-places (and for bots restarts) the objects
        o = sim.objects.items[k]
        for label, ds, lane in (("beside", 0.0, -o.f or 1.0), ("1 m behind, same lane", -1.0, o.f)):
            x, y, heading, _ = sim.objects.lanes.point(o.s + ds, lane)
            wp = int(np.searchsorted(tr.cum, (o.s + ds) % tr.length_m, side="right") - 1) % tr.n
            p = tr.project(x, y)
            sim.reset(wp, lateral_m=p.lateral or 1e-6)
            sim.step(0.0, 0.3)
            out.append((f"{label} object {k}", reward(sim.reward_params())))
            if ds < 0:  # drive on into it
                for step in range(30):  # noqa: B007 (step is reported)
                    sim.step(0.0, 1.0)
                    if sim.race.status == "crashed" or sim.done:
                        break
                out.append((f"crashed into object {k} (step {step + 1})", reward(sim.reward_params())))
    return out
