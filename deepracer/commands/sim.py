"""`deepracer sim`: drive a model around a simulated track through the car's own nodes.

sim_node (camera + physics) -> inference_node (the model) -> control_node -> sim_node,
the same inference and control nodes as on the car. Prints the lap times, writes a video
(camera view next to a top-down view) and a PNG of the driven path coloured by speed.
`--export-gazebo DIR` writes a Gazebo world for the track instead (docs/gazebo.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deepracer.commands._race_args import (
    add_race_type_arguments,
    race_config_from_args,
    race_node_params,
)
from deepracer.commands._track_args import add_direction_argument, apply_direction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--track", default=None, help="built-in track name or route .npy file (default: the default track)")
    add_direction_argument(parser)
    parser.add_argument("--model", default=None, help="model package directory or .tar.gz (default: the bundled model)")
    parser.add_argument("--laps", type=int, default=1, help="laps to drive (default 1)")
    parser.add_argument("--video", default=None, help="MP4 to write (default OUT/sim-<track>.mp4)")
    parser.add_argument("--png", default=None, help="trajectory PNG to write (default OUT/sim-<track>.png)")
    parser.add_argument("--out", default="sim-output", help="folder for the default video and PNG (default sim-output)")
    parser.add_argument("--no-video", action="store_true", help="write neither the video nor the PNG")
    parser.add_argument("--lock-step", action="store_true", help="each frame waits for its command: deterministic, as fast as the CPU allows")
    parser.add_argument("--processes", action="store_true", help="one process per node, as ros2 launch would run them")
    parser.add_argument("--seed", type=int, default=0, help="random seed (start position noise, appearance)")
    parser.add_argument("--randomize", action="store_true", help="randomise lighting/colours per episode (domain randomisation)")
    parser.add_argument("--max-seconds", type=float, default=None, help="simulated-time limit (default 90 s per lap)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--camera-profile", default=None, metavar="NAME_OR_FILE",
                        help="sim_node renders through this camera profile (aws-sim, car, or a profile file); "
                             "default: the one the model package records, else car")
    parser.add_argument("--export-gazebo", metavar="DIR", default=None,
                        help="write a Gazebo world, car model and ros_gz_bridge config for the track to DIR and exit")
    add_race_type_arguments(parser)
    from deepracer.commands.drive import add_console_arguments

    add_console_arguments(parser, "serve the car's web page on PORT and drive from the browser until Ctrl-C "
                          "(the car starts stopped; no lap limit, no video)", host_default="127.0.0.1")


def run(args: argparse.Namespace) -> int:
    apply_direction(args)
    from deepracer.errors import ConfigError

    if args.laps < 1:
        raise ConfigError(f"--laps must be at least 1, not {args.laps}")
    if args.export_gazebo:
        return _export_gazebo(args)
    if args.console_port is not None:  # the car's web page on the simulated car, until Ctrl-C
        from deepracer_nodes.console_graph import check_password_file, run_sim_console

        check_password_file(args.console_password_file)
        return run_sim_console(args.console_port, args.console_host or "127.0.0.1", args.console_password_file,
                               args.out, args.model, args.track, args.seed, args.randomize, args.processes)

    from deepracer.messages import SimStatus
    from deepracer_nodes.sim_runner import DRIVER_PURE_PURSUIT, run_sim_graph

    race_params = race_node_params(args)  # obstacles / bot cars for sim_node (a bad option fails here)
    race_params = (race_params or {}) | _camera_params(args)

    if not args.json:
        print(f"deepracer sim: {args.laps} lap(s), {'lock-step' if args.lock_step else 'real time'}"
              f"{', one process per node' if args.processes else ''} ...", file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(total=100 * args.laps, unit="%", desc="laps", disable=None, leave=False,
               bar_format="{desc} {n:.0f}/{total:.0f}% |{bar}| {elapsed}")

    def progress(status: SimStatus, _action: object) -> None:  # one status per simulator step
        done = min(bar.total, 100.0 * len(status.laps) + float(status.progress))
        bar.update(done - bar.n)

    try:
        result = run_sim_graph(
            model=args.model,
            track=args.track,
            laps=args.laps,
            lock_step=args.lock_step,
            seed=args.seed,
            randomize=args.randomize,
            max_seconds=args.max_seconds,
            record=not args.no_video,
            processes=args.processes,
            allow_fallback=args.model is None,
            on_status=progress,
            sim_params=race_params,
        )
    finally:
        bar.close()
    out: dict = result.to_json()
    out["camera_profile"] = rendered_profile_name(race_params)  # the lens sim_node rendered through
    if result.driver == DRIVER_PURE_PURSUIT:
        out["note"] = ("no model package found (models/*.tar.gz): a pure-pursuit driver stood in for "
                       "inference_node; these are NOT a model's lap times")
    if not args.no_video:
        out |= _write_outputs(args, result)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print_table(out)
    return 0


def _write_outputs(args: argparse.Namespace, result) -> dict:
    from deepracer.sim import load_track
    from deepracer.sim.video import Pose, write_trajectory_png, write_video

    track = load_track(args.track) if args.track else load_track(None)
    out_dir = Path(args.out)
    video = Path(args.video) if args.video else out_dir / f"sim-{track.name}.mp4"
    png = Path(args.png) if args.png else out_dir / f"sim-{track.name}.png"
    poses = [Pose(s.x, s.y, s.yaw, s.speed) for s in result.steps]
    written: dict = {}
    if result.frames:
        frame_poses = [poses[i] for i in result.frame_steps]
        captions = []
        for i in result.frame_steps:
            s = result.steps[i]
            captions.append(f"lap {s.lap + 1}  {s.progress:.1f}%  {s.speed:.2f} m/s  t {s.sim_time:.2f} s")
        written["video"] = str(write_video(video, track, result.frames, frame_poses, result.camera_hz, captions,
                                           objects=_static_objects(args, track, len(result.frames))))
    driver = "pure pursuit (stand-in)" if result.driver != "model" else Path(result.model).name
    laps = ", ".join(f"{lap.lap_time_s:.2f} s" for lap in result.laps if lap.completed) or "no lap completed"
    written["png"] = str(write_trajectory_png(png, track, poses, f"{track.name} - {driver} - {laps}"))
    return written


def _static_objects(args: argparse.Namespace, track, n: int) -> list | None:
    """Fixed obstacles for the video's top-down view (where sim_node placed them); None for a time
    trial and for moving or re-drawn objects (the camera view shows those)."""
    race = race_config_from_args(args)
    if race.race_type != "object_avoidance" or race.obstacles.randomize:
        return None
    from deepracer.sim import SimConfig, Simulator

    objects = Simulator(SimConfig(track=track, seed=args.seed, **race.sim_fields())).object_list
    return [objects] * n


def _print_table(out: dict) -> None:
    driver = out["model"] if out["driver"] == "model" else "pure pursuit (stand-in, no model package)"
    print(f"track {out['track']}  driver {driver}  {'lock-step' if out['lock_step'] else 'real time'}")
    print(f"{'lap':>4}  {'time (s)':>9}  {'completed':>9}")
    for lap in out["laps"]:
        done = "yes" if lap["completed"] else f"no ({lap['progress']:.0f}%)"
        print(f"{lap['lap']:>4}  {lap['lap_time_s']:>9.2f}  {done:>9}")
    reason = {"laps_done": "all laps done", "time_up": "time limit reached", "stuck": "car stuck (no progress)",
              "off_track": "car off track for good", "wall_timeout": "wall-clock timeout"}.get(out["stop_reason"], out["stop_reason"])
    print(f"completed {out['completed_laps']}/{out['laps_requested']} laps, off track {out['off_track_count']} time(s), "
          f"stopped: {reason}; {out['sim_time_s']:.1f} s simulated in {out['wall_time_s']:.1f} s")
    if out.get("note"):
        print(f"NOTE: {out['note']}")
    for key in ("video", "png"):
        if key in out:
            print(f"{key}: {out[key]}")


def _export_gazebo(args: argparse.Namespace) -> int:
    from deepracer.sim import load_track
    from deepracer.sim.gazebo import export_gazebo

    track = load_track(args.track) if args.track else load_track(None)
    race = race_config_from_args(args)
    objects = race_objects = None
    if race.race_type != "time_trial":  # the obstacles / bots where an episode starts them
        from deepracer.sim import SimConfig, Simulator

        sim = Simulator(SimConfig(track=track, seed=args.seed, **race.sim_fields()))
        objects, race_objects = sim.object_list, sim.objects  # bots: actors along their lanes
    sensors: list[str] = []
    if args.model:  # the model's sensor list: the stereo pair / the LiDAR on the Gazebo car too
        from deepracer.model.package import load_model_package

        sensors = list(load_model_package(args.model).metadata.sensor)
    exp = export_gazebo(track, args.export_gazebo, track_name=track.name, objects=objects,
                        race_objects=race_objects, sensors=sensors)
    if args.json:
        print(json.dumps({"track": track.name, "world": str(exp.world), "bridge": str(exp.bridge),
                          "models": str(exp.models), "start_pose": exp.start_pose}, indent=2))
    else:
        print(f"Gazebo files for track {track.name} in {args.export_gazebo}:")
        print(f"  world   {exp.world}\n  bridge  {exp.bridge}\n  models  {exp.models}  (GZ_SIM_RESOURCE_PATH)")
        print(f"run: GZ_SIM_RESOURCE_PATH={exp.models} gz sim -r {exp.world}")
        print(f"     ros2 run ros_gz_bridge parameter_bridge --ros-args -p config_file:={exp.bridge}")
        print("or:  ros2 launch deepracer sim.launch.py backend:=gazebo track:=" + track.name)
    return 0


def rendered_profile_name(params: dict | None) -> str:
    """The name of the camera profile sim_node renders through with these parameters (default `car`)."""
    spec = (params or {}).get("camera_profile")
    if not spec:
        return "car"
    from deepracer.camera_profile import resolve_profile

    return resolve_profile(spec).name


def _camera_params(args: argparse.Namespace) -> dict:
    """sim_node's camera_profile: --camera-profile, else the model package's recorded profile."""
    from deepracer.analysis.evaluation import camera_node_params
    from deepracer.camera_profile import resolve_profile

    if args.camera_profile:
        return camera_node_params(resolve_profile(args.camera_profile))  # a bad name or file fails here
    if args.model:
        from deepracer.model.package import load_model_package

        return camera_node_params(load_model_package(args.model).metadata.camera_profile)
    return {}
