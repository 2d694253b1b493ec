"""`deepracer bench sim`: simulator speed on one core (env steps, rendering, physics).

steps_per_s is the full gym step: command decode, physics (4 steps at 60 Hz for a
15 Hz camera), race state, 160x120 render, reward params and a reward function.
Each figure is the median over --repeats runs, per CPU second of one core (the process is
pinned to one core); `*_wall` are the same per wall-clock second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--track", default=None, help="track name or route file (default: the default track)")
    parser.add_argument("--steps", type=int, default=3000, help="env steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--randomize", action="store_true", help="with domain randomisation (training setting)")
    parser.add_argument("--color", action="store_true", help="render BGR instead of grey")
    parser.add_argument("--race-type", default="time_trial",
                        choices=["time_trial", "object_avoidance", "head_to_bot"],
                        help="with DeepRacer's default obstacles or bot cars; the time trial's figures "
                             "are measured in the same run for comparison")


def _rates(fn, n: int) -> tuple[float, float]:
    """(per CPU second of this process, per wall second): the CPU figure is what one core
    does; the wall figure also counts time other processes took from us."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn(n)
    return n / max(time.process_time() - c0, 1e-9), n / (time.perf_counter() - w0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from deepracer.sim.objects import RaceType
    from deepracer.sim.track import DEFAULT_TRACK

    try:  # one core, as the figure promises
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
    track = args.track or DEFAULT_TRACK
    race_type = RaceType.parse(getattr(args, "race_type", "time_trial"))
    result = _measure(args, track, RaceType.TIME_TRIAL)
    if race_type is not RaceType.TIME_TRIAL:
        other = _measure(args, track, race_type)
        result["race_type"] = str(race_type)
        result[str(race_type)] = other
        result["ratio_to_time_trial"] = round(other["steps_per_s"] / max(result["steps_per_s"], 1), 3)
    result["repeats"] = args.repeats
    result["deepracer_gazebo_steps_per_s"] = 15
    return result


def _measure(args: argparse.Namespace, track: str, race_type: Any) -> dict[str, Any]:
    from deepracer.sim.env import DeepRacerEnv
    from deepracer.sim.pure_pursuit import PurePursuitDriver
    from deepracer.sim.simulator import SimConfig, Simulator

    cfg = SimConfig(race_type=race_type)
    env = DeepRacerEnv(track=track, randomize=args.randomize, seed=0, grayscale=not args.color, sim_config=cfg)
    driver = PurePursuitDriver(env.sim.track)
    r = env.continuous
    assert r is not None

    def env_steps(n: int) -> None:
        env.reset(seed=0)
        driver.reset()
        for _ in range(n):
            steer, speed = driver.command(env.sim.state)
            a = (2 * (steer - r.steering_low) / (r.steering_high - r.steering_low) - 1,
                 2 * (min(speed, r.speed_high) - r.speed_low) / (r.speed_high - r.speed_low) - 1)
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
                driver.reset()

    sim = Simulator(SimConfig(track=track, grayscale=not args.color, race_type=race_type))

    def renders(n: int) -> None:
        for _ in range(n):
            sim.render()

    def physics(n: int) -> None:  # one physics step each
        v = sim.vehicle
        for _ in range(n):
            v.step(sim.physics_dt, 5.0, 1.0)

    result: dict[str, Any] = {"track": track, "image": f"{sim.config.width}x{sim.config.height} "
                              f"{'bgr' if args.color else 'gray'}", "randomize": bool(args.randomize)}
    for name, fn, n in (("steps_per_s", env_steps, args.steps), ("render_per_s", renders, args.steps),
                        ("physics_per_s", physics, args.steps * 4)):
        runs = [_rates(fn, n) for _ in range(args.repeats)]
        result[name] = round(statistics.median(r[0] for r in runs))
        result[f"{name}_wall"] = round(statistics.median(r[1] for r in runs))
    return result
