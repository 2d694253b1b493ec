"""`deepracer console`: the DeepRacer console, local — an application on top of the core.

A FastAPI server (JSON API, OpenAPI at /api/openapi.json, the pages from web/dist), storage
through SQLAlchemy with Alembic migrations and a job runner that starts every training and
evaluation as a `deepracer train` / `deepracer evaluate` process of its own. The server process
imports neither rclpy nor torch, and untrusted reward code never runs inside it.
"""
