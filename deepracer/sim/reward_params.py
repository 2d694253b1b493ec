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
    params = {
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
        "is_crashed": False,  # hit an obstacle or a car on this step (object races only)
        "is_reversed": bool(sim.track.is_reversed),  # driven against the route file's order (clockwise on DeepRacer's routes)
        "closest_objects": [0, 0],  # indices of the nearest objects behind/ahead (none here)
        "objects_distance": [],  # m along the track, per object
        "objects_distance_from_center": [],  # m
        "objects_heading": [],  # rad (DeepRacer's code; its docs say degrees)
        "objects_left_of_center": [],
        "objects_location": [],  # [(x, y), ...]
        "objects_speed": [],  # m/s
        "object_in_camera": False,  # the next object ahead is in the camera's view (object races)
        "projection_distance": float(p.s),  # m along the centre line from waypoint 0
    }
    objects = sim.object_list
    if objects:
        params.update(object_params(objects, p.s, tr.length_m))
        params["object_in_camera"] = in_camera(sim, objects[params["closest_objects"][1]])
        params["is_crashed"] = race.status == "crashed"  # the step a collision pauses or ends the episode
    return params


def in_camera(sim: Simulator, o: Any) -> bool:
    """DeepRacer's object_in_camera: the object's centre inside the camera's view (our camera's
    horizontal and vertical field of view and range), in front of the lens."""
    pose, s = sim.renderer.pose, sim.state
    yaw = s.yaw + math.radians(pose.yaw_deg)
    c, si = math.cos(yaw), math.sin(yaw)
    dx, dy = o.x - (s.x + pose.forward_m * c), o.y - (s.y + pose.forward_m * si)
    ahead, left = dx * c + dy * si, -dx * si + dy * c
    if ahead <= 0.0 or math.hypot(ahead, left) > pose.max_range_m:
        return False
    half = math.radians(pose.hfov_deg) / 2
    return abs(math.atan2(left, ahead)) <= half


def object_params(objects: list[Any], s_car: float, length: float) -> dict[str, Any]:
    """DeepRacer's objects_* keys and closest_objects for the objects on the track.

    closest_objects = [behind, ahead]: the indices of the nearest object behind and ahead of
    the car along the centre line, wrapping round the lap (one object: [0, 0])."""
    ahead = min(range(len(objects)), key=lambda k: (objects[k].s - s_car) % length)
    behind = min(range(len(objects)), key=lambda k: (s_car - objects[k].s) % length)
    return {
        "closest_objects": [int(behind), int(ahead)],
        "objects_location": [(float(o.x), float(o.y)) for o in objects],  # m
        "objects_distance": [float(o.s) for o in objects],  # m along the centre line from waypoint 0
        "objects_distance_from_center": [abs(float(o.lateral)) for o in objects],  # m
        "objects_left_of_center": [bool(o.lateral > 0) for o in objects],
        # DeepRacer fills heading (radians) and speed only for moving cars; 0 for obstacles
        "objects_heading": [float(o.yaw) if o.speed > 0 else 0.0 for o in objects],
        "objects_speed": [float(o.speed) for o in objects],  # m/s
    }
