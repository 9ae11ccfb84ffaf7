"""`python -m services.mistral_sim --host 127.0.0.1 --port 8800`: serve the simulator."""

from __future__ import annotations

import argparse
import logging
import logging.config

import uvicorn

from services.common.logs import log_config
from services.common.settings import load_settings
from services.mistral_sim.app import create_app
from services.mistral_sim.faults import SimulatedDisconnect
from services.mistral_sim.settings import SimSettings


class _HideInjectedDisconnects(logging.Filter):
    """An injected disconnect is the point of the test, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, SimulatedDisconnect):
                return False
            if isinstance(exc, BaseExceptionGroup) and any(
                isinstance(e, SimulatedDisconnect) for e in exc.exceptions
            ):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def main(argv: list[str] | None = None) -> None:
    settings = load_settings(SimSettings)
    parser = argparse.ArgumentParser(prog="python -m services.mistral_sim", description=__doc__)
    parser.add_argument("--host", default=settings.sim_host)
    parser.add_argument("--port", type=int, default=settings.sim_port)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    config = log_config("mistral-sim", args.log_level)
    logging.config.dictConfig(config)
    logging.getLogger("uvicorn.error").addFilter(_HideInjectedDisconnects())
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=config,
        timeout_graceful_shutdown=5,
        # Longer than an httpx client keeps an idle connection (5 s): the client drops it first,
        # never sending on a connection this server is closing.
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
