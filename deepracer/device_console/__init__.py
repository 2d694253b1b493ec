"""The car's own web console (ROS-free): FastAPI app, auth, model store, MJPEG stream, static page.

The ROS side is deepracer_nodes/device_console_node.py; docs in docs/device-console.md.
"""
