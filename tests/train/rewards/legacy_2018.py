def reward_function(on_track, x, y, distance_from_center, car_orientation, progress, steps,
                    throttle, steering, track_width, waypoints, closest_waypoint):
    # The original 2018 DeepRacer signature
    import math
    if not on_track:
        return 1e-3
    reward = 1.0 - (distance_from_center / (track_width / 2)) ** 0.5
    return float(max(reward, 1e-3) + 0.0 * math.cos(car_orientation))
