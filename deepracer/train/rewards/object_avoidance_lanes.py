import math


def reward_function(params):
    '''
    Object avoidance by lanes: drive the centre line, and move to the lane away
    from the next object when it is near (and stay there until the car has passed it)
    '''

    track_width = params['track_width']
    distance_from_center = params['distance_from_center']
    is_left_of_center = params['is_left_of_center']
    objects_distance = params['objects_distance']
    objects_left_of_center = params['objects_left_of_center']
    prev_object, next_object = params['closest_objects']
    here = params['projection_distance']
    track_length = params['track_length']

    if params['is_offtrack'] or params['is_crashed']:
        return 1e-3

    # where the car should be: + is left of the centre line
    lateral = distance_from_center if is_left_of_center else -distance_from_center
    target = 0.0
    if objects_distance:
        ahead = (objects_distance[next_object] - here) % track_length
        behind = (here - objects_distance[prev_object]) % track_length
        if behind < 0.6:  # still beside the object just passed: keep clear of it
            target = -0.25 * track_width if objects_left_of_center[prev_object] else 0.25 * track_width
        elif ahead < 2.5:  # the next object: its other lane
            target = -0.25 * track_width if objects_left_of_center[next_object] else 0.25 * track_width

    error = abs(lateral - target)
    reward = 1e-3 + math.exp(-(error / (0.12 * track_width)) ** 2)
    if not params['all_wheels_on_track']:
        reward *= 0.5
    return float(reward)
