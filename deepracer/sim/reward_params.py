"""DeepRacer's reward-function input (`params`), computed from the simulator's state.

Keys, meanings and units as DeepRacer documents them. Where our values differ from
DeepRacer's implementation it is on purpose and documented in docs/simulator.md:
x, y are the car's origin (rear-axle centre), not a point 0.14 m ahead of it;
speed and steering_angle are the commanded action, as in DeepRacer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepracer.sim.simulator import Simulator


def reward_params(sim: Simulator) -> dict[str, Any]:
    tr, s, race, p = sim.track, sim.state, sim.race, sim.projection
    prev_wp, next_wp = tr.closest_waypoints(s.x, s.y, p.segment)
    steering, speed = sim.command
    offtrack = race.status == "off_track"
    return {
        "all_wheels_on_track": bool(race.all_wheels_on_track),  # all four wheels on the road
        "x": float(s.x),  # m, world frame of the track's waypoints
        "y": float(s.y),
        "distance_from_center": float(p.distance),  # m, to the centre line
        "is_left_of_center": bool(p.lateral > 0),  # relative to the driving direction
        "heading": math.degrees(s.yaw),  # deg, -180..180, counter-clockwise from +x
        "progress": float(race.progress),  # % of the lap, 0..100
        "steps": int(race.steps),  # camera steps since the episode started
        "speed": float(speed),  # m/s, commanded (the action's speed)
        "steering_angle": float(steering),  # deg, commanded, positive = left
        "track_width": float(tr.widths[prev_wp]),  # m, local width at the closest waypoint behind
        "track_length": float(tr.length_m),  # m, centre line
        "waypoints": tr.waypoints,  # [(x, y), ...] centre line, no duplicate closing point
        "closest_waypoints": [int(prev_wp), int(next_wp)],  # waypoints behind and ahead of the car
        "is_offtrack": bool(offtrack),  # no wheel on the road: the episode ends
        "is_crashed": False,  # no obstacles or other cars yet
        "is_reversed": bool(sim.track.is_reversed),  # driven against the route file's order (clockwise on DeepRacer's routes)
        "closest_objects": [0, 0],  # indices of the nearest objects behind/ahead (none here)
        "objects_distance": [],  # m along the track, per object
        "objects_heading": [],  # deg
        "objects_left_of_center": [],
        "objects_location": [],  # [(x, y), ...]
        "objects_speed": [],  # m/s
        "projection_distance": float(p.s),  # m along the centre line from waypoint 0
    }
