"""Logging set-up: plain or JSON lines, with the scenario and step of every line.

Configures only the `seal` and `drivers` loggers, never the root logger.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

_scenario: contextvars.ContextVar[str] = contextvars.ContextVar("seal_scenario", default="-")
_step: contextvars.ContextVar[str] = contextvars.ContextVar("seal_step", default="-")

#: attributes every LogRecord has; anything else passed through `extra=` is a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "scenario",
    "step",
}


@contextlib.contextmanager
def log_context(*, scenario: str | None = None, step: str | None = None) -> Iterator[None]:
    """Within the block, every log line names this scenario and/or step."""
    tokens: list[tuple[contextvars.ContextVar[str], contextvars.Token[str]]] = []
    if scenario is not None:
        tokens.append((_scenario, _scenario.set(scenario)))
    if step is not None:
        tokens.append((_step, _step.set(step)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_step() -> tuple[str, str]:
    """The scenario and step the caller runs in ("-" outside one)."""
    return _scenario.get(), _step.get()


#: how many attributes a LogRecord has before `extra=` adds its own (they come after)
_FIRST_EXTRA = len(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None)))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a caller attached with `extra=` (a log line per killed pod:
    only the attributes past a record's own are looked at)."""
    attrs = vars(record)
    if len(attrs) <= _FIRST_EXTRA:
        return {}
    return {
        k: v
        for k, v in itertools.islice(attrs.items(), _FIRST_EXTRA, None)
        if k not in _RECORD_ATTRS
    }


class _Stamps:
    """`time.strftime` of a record's second, made once per second, not once per line."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # a race only makes the same text twice
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
            self._second = second
        return self._text


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.scenario = _scenario.get()
        record.step = _step.get()
        return True


class PlainFormatter(logging.Formatter):
    """`TIME LEVEL [scenario/step] logger: message key=value ...`"""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamps()

    def format(self, record: logging.LogRecord) -> str:
        attrs = vars(record)
        where = f"[{attrs.get('scenario', '-')}/{attrs.get('step', '-')}]"
        line = (
            f"{self._stamp(record.created)} {record.levelname:<7} {where} {record.name}: "
            f"{record.getMessage()}"
        )
        if len(attrs) > _FIRST_EXTRA:  # the fields of `extra=`, in one pass
            fields = [
                f"{k}={v}"
                for k, v in itertools.islice(attrs.items(), _FIRST_EXTRA, None)
                if k not in _RECORD_ATTRS
            ]
            if fields:
                line = f"{line} {' '.join(fields)}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


#: made once: `json.dumps(doc, default=str)` makes an encoder for every line
_JSON = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "scenario": getattr(record, "scenario", "-"),
            "step": getattr(record, "step", "-"),
            "message": record.getMessage(),
        }
        doc.update(extra_fields(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return _JSON.encode(doc)


_chosen = {"format": "plain"}


def log_format() -> str:
    """The log format `configure` chose: "plain" or "json"."""
    return _chosen["format"]


def configure(
    *, verbosity: int = 0, silent: bool = False, fmt: str = "plain", stream: TextIO | None = None
) -> None:
    """Set up the `seal` and `drivers` loggers. Verbosity 0 is INFO, 1+ is DEBUG.

    seal's lines show neither the caller's file and line nor thread or process names, so
    records no longer work them out (the optimisation the logging documentation gives):
    a kill of 10,000 pods writes 10,000 lines, and that work was a third of each."""
    _lean_records()
    if silent:
        level = logging.ERROR
    elif verbosity >= 1:
        level = logging.DEBUG
    else:
        level = logging.INFO
    _chosen["format"] = fmt
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    handler.addFilter(_ContextFilter())
    for name in ("seal", "drivers"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def _lean_records() -> None:
    logging._srcfile = None  # no stack walk to find the caller of each line
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
