"""deepracer: ROS-free core of the DeepRacer-style car stack, simulator and trainer."""

__version__ = "0.1.0"
