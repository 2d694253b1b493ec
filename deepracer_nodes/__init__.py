"""Thin ROS 2 nodes over the ROS-free `deepracer` core."""
