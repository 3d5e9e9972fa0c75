"""gunicorn, configured from Python rather than a config file."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    # A dead worker's live gauges must stop counting; its counters stay in the totals.
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class WebServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from buttress.wsgi import application

        return application


def serve(*, bind: str, workers: int) -> None:
    WebServer(
        {
            "bind": [bind],
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": "-",
            "errorlog": "-",
            "child_exit": _child_exit,
            "proc_name": "buttress-web",
            # gunicorn's default control socket is one path per user; two installations (or
            # two test runs) on a host would fight over it, and nothing here uses it.
            "control_socket_disable": True,
        }
    ).run()
