"""DeepRacer's reward-function input (`params`), computed from the simulator's state.

Keys, meanings and units as DeepRacer's simulator computes them (its code, where its docs
differ; ../shared/deepracer-facts.md section 7, docs/simulator.md "Reward parameters"):
x, y, progress, distance_from_center, is_left_of_center, closest_waypoints and
projection_distance at DeepRacer's front point (`Simulator.front_point()`, 0.14 m ahead of its
base_link); `steps` counts the PREPARE step that starts every DeepRacer episode; speed and
steering_angle are the commanded action, before the actuation clip; sim_time is the
simulator's clock, which does not restart with an episode.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepracer.sim.simulator import Simulator

PREPARE_STEPS = 1  # DeepRacer's episodes start with one PREPARE step (zero speed, no reward call), counted in steps

# DeepRacer's object_in_camera frustum (its fixed figures, whatever camera the model has):
# optical centre from base_link, pitch, horizontal field of view, aspect (height / width), near / far
FRUSTUM_FORWARD_M = 0.14529
FRUSTUM_HEIGHT_M = 0.13033
FRUSTUM_PITCH_DEG = 15.0
FRUSTUM_HFOV_RAD = 1.13
FRUSTUM_ASPECT = 0.75
FRUSTUM_NEAR_M = 0.2
FRUSTUM_FAR_M = 300.0


def reward_params(sim: Simulator) -> dict[str, Any]:
    tr, race, p = sim.track, sim.race, sim.projection
    fx, fy = sim.front_point()
    prev_wp, next_wp = tr.closest_waypoints(fx, fy, p.segment)
    steering, speed = sim.command
    offtrack = race.status == "off_track"
    params = {
        "all_wheels_on_track": bool(race.all_wheels_on_track),  # all four wheels on the road
        "x": float(fx),  # m, DeepRacer's front point, world frame of the track's waypoints
        "y": float(fy),
        "distance_from_center": float(p.distance),  # m, front point to the centre line
        "is_left_of_center": bool(p.lateral > 0),  # front point, relative to the driving direction
        "heading": math.degrees(sim.state.yaw),  # deg, -180..180, counter-clockwise from +x
        "progress": float(race.progress),  # % of the lap, 0..100, of the front point from the episode's start
        "steps": float(race.steps + PREPARE_STEPS),  # agent steps including the PREPARE step, a float as DeepRacer's
        "speed": float(speed),  # m/s, commanded (the action's speed, before the 0.1..4 clip)
        "steering_angle": float(steering),  # deg, commanded, positive = left
        "track_width": float(tr.widths[prev_wp]),  # m, local width at the closest waypoint behind
        "track_length": float(tr.length_m),  # m, centre line
        "waypoints": tr.waypoints,  # [(x, y), ...] centre line, no duplicate closing point
        "closest_waypoints": [int(prev_wp), int(next_wp)],  # around the front point's projection, along the track
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
        "object_in_camera": False,  # the next object ahead is in DeepRacer's camera frustum (object races)
        "projection_distance": float(p.s),  # m along the centre line from waypoint 0, of the front point
        "sim_time": float(sim.sim_time),  # s, the simulator's clock (does not restart with an episode)
    }
    objects = sim.object_list
    if objects:
        params.update(object_params(objects, p.s, tr.length_m))
        params["object_in_camera"] = in_camera(sim, objects[params["closest_objects"][1]])
        params["is_crashed"] = race.status == "crashed"  # the step a collision pauses or ends the episode
    return params


def in_camera(sim: Simulator, o: Any) -> bool:
    """DeepRacer's object_in_camera: the object's position (on the ground) inside its camera's
    frustum — a pinhole at FRUSTUM_FORWARD_M ahead of base_link and FRUSTUM_HEIGHT_M up, pitched
    down 15°, 1.13 rad wide, aspect 0.75, from 0.2 to 300 m — whichever camera the model uses."""
    from deepracer.sim.vehicle import BASE_LINK_M

    s = sim.state
    c, si = math.cos(s.yaw), math.sin(s.yaw)
    ahead = BASE_LINK_M + FRUSTUM_FORWARD_M
    dx, dy = o.x - (s.x + ahead * c), o.y - (s.y + ahead * si)
    fwd, left, up = dx * c + dy * si, -dx * si + dy * c, -FRUSTUM_HEIGHT_M
    pitch = math.radians(FRUSTUM_PITCH_DEG)
    depth = fwd * math.cos(pitch) - up * math.sin(pitch)  # along the optical axis
    vertical = fwd * math.sin(pitch) + up * math.cos(pitch)  # off it, in the image's vertical
    if not FRUSTUM_NEAR_M <= depth <= FRUSTUM_FAR_M:
        return False
    half_w = math.tan(FRUSTUM_HFOV_RAD / 2)
    return abs(left) <= depth * half_w and abs(vertical) <= depth * half_w * FRUSTUM_ASPECT


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
