"""Running the console: the address check, then uvicorn serving create_app(settings)."""

from __future__ import annotations

import ipaddress

from deepracer.errors import ConfigError
from deepracer_console.settings import LOCAL_HOSTS, Settings


def is_loopback(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, accounts_exist: bool = False) -> None:
    """Without accounts the console is for one user on one machine: loopback addresses only."""
    if not is_loopback(host) and not accounts_exist:
        raise ConfigError(
            f"--host {host}: the console has no accounts yet, so it serves only this machine (127.0.0.1). "
            "Serving other machines needs accounts: create the first admin with "
            "`deepracer console admin create NAME --data DIR`, then start it again "
            "(or use --host 127.0.0.1, and an SSH tunnel to reach it from elsewhere)")


def accounts_exist(settings: Settings) -> bool:
    """Are there accounts? Without touching anything: a missing SQLite file means none."""
    if settings.database_url is None and not (settings.data_dir / "console.db").is_file():
        return False
    from deepracer_console.auth import count_users
    from deepracer_console.db import open_database

    return count_users(open_database(settings.db_url)) > 0


def check_sandbox(settings: Settings, multi_user: bool) -> None:
    """Several users need the sandbox: without a working bwrap, refuse and say why."""
    from deepracer_console.sandbox import cached_probe

    if settings.unsafe_single_user:
        if not is_loopback(settings.host):
            raise ConfigError(f"--unsafe-single-user serves this machine only, not --host {settings.host}")
        settings.sandbox = "none"
        print("WARNING: --unsafe-single-user: training and evaluation jobs run without a sandbox", flush=True)
        return
    problem = cached_probe()
    if problem is None:
        settings.sandbox = "bwrap"
    elif multi_user:
        raise ConfigError(f"the console cannot serve several users without its sandbox: {problem}")


def serve(settings: Settings) -> None:
    import uvicorn

    from deepracer_console.app import create_app

    accounts = accounts_exist(settings)
    check_host(settings.host, accounts)
    check_sandbox(settings, multi_user=accounts or not is_loopback(settings.host))
    if settings.ray_address:
        from deepracer_console.ray_runner import check_cluster

        nodes = check_cluster(settings)  # every node sees the shared storage and has the sandbox
        print(f"jobs run on the Ray cluster at {settings.ray_address} ({len(nodes)} node(s)); "
              f"their files in {settings.files_dir}", flush=True)
    app = create_app(settings)
    print(f"DeepRacer console: http://{settings.host}:{settings.port}/  (data: {settings.data_dir})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
