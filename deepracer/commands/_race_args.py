"""The race-type options shared by train, evaluate, race, sim and reward validate.

`add_race_type_arguments(parser)` adds them; `race_config_from_args(args)` turns them into a
`deepracer.sim.objects.RaceConfig` (the one source of DeepRacer's defaults: sim/objects.py).
"""

from __future__ import annotations

import argparse

from deepracer.sim.objects import BotConfig, ObstacleConfig, RaceConfig, RaceType, parse_positions

_OBST, _BOT = ObstacleConfig(), BotConfig()


def add_race_type_arguments(parser: argparse.ArgumentParser, penalties: bool = True) -> None:
    g = parser.add_argument_group("race type (DeepRacer's object avoidance and head-to-bot)")
    g.add_argument("--race-type", default=RaceType.TIME_TRIAL.value, choices=[r.value for r in RaceType],
                   help="time_trial (default), object_avoidance (boxes on the track) or head_to_bot (bot cars)")
    g.add_argument("--objects", type=int, default=None, metavar="N",
                   help=f"object avoidance: number of obstacles, 1..6 (default {_OBST.count}), evenly spaced "
                        "from 2%% of the lap, lanes alternating inner/outer")
    g.add_argument("--object-positions", default=None, metavar="P,L;...",
                   help="object avoidance: explicit obstacles as PROGRESS%%,LANE pairs, LANE inner/outer (or 1/-1), "
                        "e.g. '20,inner;50,outer;80,inner' (overrides --objects)")
    g.add_argument("--randomize-objects", action="store_true",
                   help="object avoidance: new random obstacle positions and lanes every episode")
    g.add_argument("--obstacle-bot-cars", action="store_true",
                   help="object avoidance: stationary bot cars instead of boxes")
    g.add_argument("--bots", type=int, default=None, metavar="N",
                   help=f"head-to-bot: number of bot cars, 1..6 (default {_BOT.count})")
    g.add_argument("--bot-speed", type=float, default=None, metavar="V",
                   help=f"head-to-bot: bot speed in m/s (default {_BOT.speed_mps})")
    g.add_argument("--bot-lane-change", action="store_true",
                   help=f"head-to-bot: bots change lanes every {_BOT.lane_change_min_s:g}-{_BOT.lane_change_max_s:g} s")
    g.add_argument("--randomize-bots", action="store_true", help="head-to-bot: random bot starts and lanes")
    g.add_argument("--bot-lane-change-min", type=float, default=None, metavar="S",
                   help=f"head-to-bot: shortest time between a bot's lane changes (default {_BOT.lane_change_min_s:g} s)")
    g.add_argument("--bot-lane-change-max", type=float, default=None, metavar="S",
                   help=f"head-to-bot: longest time between a bot's lane changes (default {_BOT.lane_change_max_s:g} s)")
    if penalties:
        g.add_argument("--collision-penalty", type=float, default=None, metavar="S",
                       help="seconds added to the lap time per crash, the car is put back 1 m behind "
                            "the object (default 5, DeepRacer's)")


def race_config_from_args(args: argparse.Namespace) -> RaceConfig:
    """The RaceConfig the options describe (ConfigError on a bad value or an option of another race type)."""
    from deepracer.errors import ConfigError

    rt = RaceType.parse(getattr(args, "race_type", None) or RaceType.TIME_TRIAL)
    oa_opts = [n for n in ("objects", "object_positions") if getattr(args, n, None) is not None]
    oa_opts += [n for n in ("randomize_objects", "obstacle_bot_cars") if getattr(args, n, False)]
    bot_opts = [n for n in ("bots", "bot_speed", "bot_lane_change_min", "bot_lane_change_max")
                if getattr(args, n, None) is not None]
    bot_opts += [n for n in ("bot_lane_change", "randomize_bots") if getattr(args, n, False)]
    if oa_opts and rt is not RaceType.OBJECT_AVOIDANCE:
        raise ConfigError(f"--{oa_opts[0].replace('_', '-')} needs --race-type object_avoidance")
    if bot_opts and rt is not RaceType.HEAD_TO_BOT:
        raise ConfigError(f"--{bot_opts[0].replace('_', '-')} needs --race-type head_to_bot")
    obstacles = ObstacleConfig(
        count=args.objects if getattr(args, "objects", None) is not None else _OBST.count,
        positions=parse_positions(args.object_positions) if getattr(args, "object_positions", None) else (),
        randomize=bool(getattr(args, "randomize_objects", False)),
        bot_cars=bool(getattr(args, "obstacle_bot_cars", False)),
    )
    bots = BotConfig(
        count=args.bots if getattr(args, "bots", None) is not None else _BOT.count,
        speed_mps=args.bot_speed if getattr(args, "bot_speed", None) is not None else _BOT.speed_mps,
        lane_change=bool(getattr(args, "bot_lane_change", False)),
        randomize=bool(getattr(args, "randomize_bots", False)),
        lane_change_min_s=_or(getattr(args, "bot_lane_change_min", None), _BOT.lane_change_min_s),
        lane_change_max_s=_or(getattr(args, "bot_lane_change_max", None), _BOT.lane_change_max_s),
    )
    penalty = getattr(args, "collision_penalty", None)
    race = RaceConfig(rt, obstacles, bots, RaceConfig.collision_penalty_s if penalty is None else penalty)
    race.validate()
    return race


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def race_node_params(args: argparse.Namespace) -> dict[str, object]:
    """The same options as sim_node parameters (deepracer.node_params.SimNodeParams), for
    `deepracer sim`; checked first through race_config_from_args."""
    return race_config_from_args(args).node_params()
