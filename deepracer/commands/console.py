"""`deepracer console`: the DeepRacer console in a browser (see docs/console.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepracer_console.settings import (
        DEFAULT_HOST,
        DEFAULT_PORT,
        default_data_dir,
        default_max_jobs,
    )

    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to serve on (default {DEFAULT_HOST}; other addresses need the accounts "
                             "of the classroom server, which do not exist yet)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"data folder: database and every model's files (default {default_data_dir()})")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy database URL (default: sqlite:///DATA/console.db)")
    parser.add_argument("--max-jobs", type=int, default=None,
                        help=f"training/evaluation processes at once (default: half the cores, here {default_max_jobs()})")
    parser.add_argument("--upload-limit-mb", type=int, default=None, help="largest upload accepted (default 200)")
    parser.add_argument("--stop-timeout", type=float, default=None, metavar="S",
                        help="seconds a stopped job gets to save before it is killed (default 60)")
    parser.add_argument("--reward-timeout", type=float, default=None, metavar="S",
                        help="time limit per reward call in training jobs (default: deepracer train's, 1 s)")
    # the event server (docs/event-server.md)
    parser.add_argument("--database", dest="database_url", default=None, help="same as --database-url "
                        "(e.g. postgresql+psycopg://user@host/db)")
    parser.add_argument("--unsafe-single-user", action="store_true",
                        help="run jobs WITHOUT the bubblewrap sandbox (a laptop only you use; 127.0.0.1 only)")
    # scale-out (docs/event-server.md, Ray)
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="run training and evaluation jobs as tasks on the Ray cluster at ADDRESS "
                             "(host:port of its head, or auto); needs --shared-storage")
    parser.add_argument("--shared-storage", type=Path, default=None, metavar="PATH",
                        help="with --ray: models and tracks live here, a folder every Ray node mounts at this path")
    parser.add_argument("--job-cpus", type=float, default=None, metavar="N",
                        help="CPU share of each job (cgroup cpu limit; Ray: the task's num_cpus). Default: a "
                             "training's environments, 1 for an evaluation; embedded jobs unlimited")
    actions = parser.add_subparsers(dest="console_action", metavar="{admin,backup,restore}")
    admin = actions.add_parser("admin", help="accounts of the event server")
    admin_actions = admin.add_subparsers(dest="admin_action", metavar="{create}", required=True)
    create = admin_actions.add_parser("create", help="create an admin account (asks for the password)")
    create.add_argument("name", help="the admin's username")
    create.add_argument("--data", dest="admin_data", type=Path, default=None, help="the console's data folder")
    create.add_argument("--password", default=None, help="the password (asked for when not given)")
    backup = actions.add_parser("backup", help="the database and the data folder into one .tar.gz")
    backup.add_argument("out", type=Path, help="the archive to write (.tar.gz)")
    backup.add_argument("--data", dest="admin_data", type=Path, default=None, help="the console's data folder")
    backup.add_argument("--database", dest="admin_database", default=None, metavar="URL",
                        help="the console's database when it is not DATA/console.db (PostgreSQL: saved with pg_dump)")
    backup.add_argument("--shared-storage", dest="admin_shared", type=Path, default=None, metavar="PATH",
                        help="the console's --shared-storage (Ray): its models and tracks go in too")
    restore = actions.add_parser("restore", help="a backup into a new or empty data folder")
    restore.add_argument("archive", type=Path, help="the archive `deepracer console backup` wrote")
    restore.add_argument("--data", dest="admin_data", type=Path, default=None, help="the data folder to fill")
    restore.add_argument("--database", dest="admin_database", default=None, metavar="URL",
                         help="a new, empty PostgreSQL database for a PostgreSQL backup (pg_restore)")
    restore.add_argument("--shared-storage", dest="admin_shared", type=Path, default=None, metavar="PATH",
                         help="new or empty shared storage (Ray) for the models and tracks")


def run(args: argparse.Namespace) -> int:
    from deepracer.errors import ConfigError

    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ModuleNotFoundError as err:
        raise ConfigError(f"the console needs the console extra ({err.name} is missing): "
                          "pip install -e '.[console]' or make setup-train") from None
    from deepracer_console.server import serve
    from deepracer_console.settings import Settings

    settings = Settings(host=args.host, port=args.port, database_url=args.database_url,
                        reward_timeout_s=args.reward_timeout, unsafe_single_user=args.unsafe_single_user)
    if args.data is not None:
        settings.data_dir = args.data.expanduser().resolve()
    if getattr(args, "console_action", None) == "admin":
        from deepracer_console.users import admin_create

        if args.admin_data is not None:
            settings.data_dir = args.admin_data.expanduser().resolve()
        return admin_create(settings, args.name, args.password)
    if getattr(args, "console_action", None) in ("backup", "restore"):
        from deepracer_console import backup

        if args.admin_data is not None:
            settings.data_dir = args.admin_data.expanduser().resolve()
        if args.admin_database is not None:
            settings.database_url = args.admin_database
        if args.admin_shared is not None:
            settings.shared_storage = args.admin_shared.expanduser().resolve()
        if args.console_action == "backup":
            print(f"{args.out}: {backup.backup(settings, args.out)} files from {settings.data_dir}")
        else:
            print(f"{settings.data_dir}: {backup.restore(settings, args.archive)} files restored")
        return 0
    if args.max_jobs is not None:
        if args.max_jobs < 1:
            raise ConfigError(f"--max-jobs must be at least 1, not {args.max_jobs}")
        settings.max_jobs = args.max_jobs
    if args.shared_storage is not None and args.ray is None:
        raise ConfigError("--shared-storage is where Ray jobs keep their files: give --ray ADDRESS too")
    if args.job_cpus is not None and not 0 < args.job_cpus <= 1024:
        raise ConfigError(f"--job-cpus must be a number of CPUs above 0, not {args.job_cpus:g}")
    settings.job_cpus = args.job_cpus
    if args.ray is not None:
        settings.ray_address = args.ray
        settings.shared_storage = args.shared_storage.expanduser().resolve() if args.shared_storage else None
        if args.max_jobs is None:
            settings.max_jobs = 0  # as many as the cluster's CPUs hold (ray_runner.RayRunner.capacity)
    if args.upload_limit_mb is not None:
        settings.upload_limit_bytes = args.upload_limit_mb * 1024**2
    if args.stop_timeout is not None:
        settings.stop_timeout_s = args.stop_timeout
    serve(settings)
    return 0
