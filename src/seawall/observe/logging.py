"""Structured logging with structlog: readable lines for people, JSON lines for machines (stderr)."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import Any


class LogFormat(StrEnum):
    """How log lines are written."""

    HUMAN = "human"
    JSON = "json"


def configure_logging(fmt: LogFormat = LogFormat.HUMAN, verbose: bool = False) -> None:
    """Route structlog to stderr; INFO by default, DEBUG with ``verbose``."""
    import structlog

    level = logging.DEBUG if verbose else logging.WARNING if fmt is LogFormat.HUMAN else logging.INFO
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """A bound structlog logger for one module."""
    import structlog

    return structlog.get_logger(name)
