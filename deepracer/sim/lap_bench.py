"""`deepracer bench lap`: a racing reference per track — how far a driver is from the limit.

For each built-in track (or those named with --tracks) and each route file (--routes):
(a) the pure-pursuit driver at its fastest clean setting (a grid search);
(b) the minimum-time racing line for the simulator's own vehicle limits: the computed lap
    time, and the lap driven on that line in the simulator by a tracking controller;
(c) a model package (default: the bundled model) driven in the simulator (evaluation rules,
    one trial, no resets).
Every lap starts at rest on the start line, as DeepRacer's first evaluation trial, with
commands at the 15 Hz camera rate. `model_vs_limit` = (c)/(b) and `pure_pursuit_vs_limit`
= (a)/(b), with (b) the computed time; 1.0 is the limit, larger is slower.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracks", nargs="*", metavar="NAME", default=None,
                        help="built-in tracks to measure (default: all; `--tracks` alone: none, only --routes)")
    parser.add_argument("--routes", nargs="+", metavar="FILE", default=[],
                        help="DeepRacer route files (.npy) to measure as well")
    parser.add_argument("--model", default=None, metavar="PKG",
                        help="model package driven for (c) (default: the bundled model)")
    parser.add_argument("--no-model", action="store_true", help="skip (c)")
    parser.add_argument("--method", choices=("min_time", "min_curvature"), default="min_time",
                        help="racing line: minimum lap time (default) or minimum curvature (faster to compute)")
    parser.add_argument("--max-iterations", type=int, default=30,
                        help="minimum-time optimiser iterations per track (default 30)")
    parser.add_argument("--rule", choices=("all_wheels", "deepracer"), default="all_wheels",
                        help="a clean lap keeps all four wheels on the road (default; the line keeps half the car's "
                        "width from the borders), or DeepRacer's off-track rule: at least one wheel on the road")
    parser.add_argument("--quick", action="store_true",
                        help="minimum-curvature line and a small pure-pursuit grid (a smoke test, not a reference)")


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def measure_track(track: Any, model: str | None, method: str, max_iterations: int, quick: bool,
                  rule: str = "all_wheels") -> dict[str, Any]:
    from deepracer.sim import racing_line as rl

    rule_ = rl.BorderRule(rule)
    t0 = time.monotonic()
    if quick:
        pp, tried = rl.fastest_pure_pursuit(track, max_speeds=(3.0, 4.0), lateral_accels=(4.0, 8.0, 12.0),
                                            lookaheads=((0.35, 0.3),), rule=rule_)
    else:
        pp, tried = rl.fastest_pure_pursuit(track, rule=rule_)
    t1 = time.monotonic()
    line = rl.compute_racing_line(track, method="min_curvature" if quick else method, max_iterations=max_iterations,
                                  rule=rule_)
    inside = rl.wheels_on_road(track, line, rule=rule_)
    t2 = time.monotonic()
    driven = rl.drive_line(track, line, rule=rule_)
    t3 = time.monotonic()
    limit = line.summary() | {
        "line_meets_rule": bool(inside.all()), "driven": driven.to_dict(),
        "driven_vs_computed": _ratio(driven.lap_time_s, line.standing_lap_s),
    }
    out: dict[str, Any] = {
        "track": track.name, "source": str(track.source) if track.source else None,
        "length_m": round(track.length_m, 3), "width_m": round(track.width_m, 3),
        "pure_pursuit": pp.to_dict() | {"settings_tried": tried},
        "limit": limit,
    }
    model_lap = None
    if model is not None:
        from deepracer.analysis.evaluation import evaluate

        result = evaluate(model, track=str(track.source) if track.source else track.name, trials=1, resets=0,
                          max_trial_seconds=rl.MAX_LAP_SECONDS)
        trial = result.trials[0]
        model_lap = trial.lap_time_s
        out["model"] = {"name": result.model, "package": str(model), "lap_time_s": model_lap,
                        "status": trial.status, "progress": trial.progress}
    out["pure_pursuit_vs_limit"] = _ratio(pp.lap_time_s, line.standing_lap_s)
    out["model_vs_limit"] = _ratio(model_lap, line.standing_lap_s)
    out["seconds"] = {"pure_pursuit_search": round(t1 - t0, 2), "racing_line": round(t2 - t1, 2),
                      "driving_the_line": round(t3 - t2, 2), "total": round(time.monotonic() - t0, 2)}
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from deepracer.errors import ConfigError

    try:
        import scipy  # noqa: F401
    except ImportError as err:
        raise ConfigError("bench lap needs scipy (the train extra): pip install 'deepracer[train]'") from err
    from deepracer.paths import bundled_model
    from deepracer.sim.racing_line import VehicleLimits
    from deepracer.sim.track import builtin_names, load_track

    names = args.tracks if args.tracks is not None else builtin_names()
    tracks = [load_track(n) for n in names] + [load_track(Path(p)) for p in args.routes]
    model = None if args.no_model else str(args.model or bundled_model())
    if model is not None:
        from deepracer.model.package import load_model_package

        load_model_package(model)  # a bad package fails before minutes of work
    results = []
    try:
        from tqdm import tqdm

        iterator = tqdm(tracks, desc="bench lap", unit="track", file=sys.stderr, disable=not sys.stderr.isatty())
    except ImportError:
        iterator = tracks
    for track in iterator:
        results.append(measure_track(track, model, args.method, args.max_iterations, args.quick, args.rule))
    summary = []
    for r in results:
        m = r.get("model", {})
        summary.append(
            f"{r['track']}: pure pursuit {r['pure_pursuit']['lap_time_s']} s, limit {r['limit']['computed_lap_s']} s "
            f"(driven {r['limit']['driven']['lap_time_s']} s), model {m.get('lap_time_s')} s ({m.get('status')}); "
            f"pp/limit {r['pure_pursuit_vs_limit']}, model/limit {r['model_vs_limit']}")
    return {
        "convention": "one lap from rest on the start line, commands at 15 Hz; ratios = lap / computed limit lap",
        "vehicle_limits": VehicleLimits.from_params().to_dict(),
        "rule": args.rule,
        "model_rule": "DeepRacer's evaluation: off track only when no wheel is on the road",
        "method": "min_curvature" if args.quick else args.method,
        "model": model,
        "tracks": results,
        "summary": summary,
    }
