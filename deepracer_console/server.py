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


def check_host(host: str) -> None:
    """Without accounts the console is for one user on one machine: loopback addresses only."""
    if not is_loopback(host):
        raise ConfigError(
            f"--host {host}: the console has no accounts yet, so it serves only this machine (127.0.0.1). "
            "Serving other machines needs the accounts, roles and login of the classroom/event server "
            "(the next issue); until then use --host 127.0.0.1 (and an SSH tunnel to reach it from elsewhere)")


def serve(settings: Settings) -> None:
    import uvicorn

    from deepracer_console.app import create_app

    check_host(settings.host)
    app = create_app(settings)
    print(f"DeepRacer console: http://{settings.host}:{settings.port}/  (data: {settings.data_dir})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
