"""OCF plumbing: return codes, exit reasons, logging, the parameter environment.

Logging and exit reasons go through resource-agents' own ocf.py
($OCF_ROOT/lib/heartbeat/ocf.py, shipped on EL9 and Debian) so our messages
land where every other agent's do; a minimal stand-in keeps the handlers
importable in unit tests on machines without resource-agents.
"""

import logging
import os
import sys
from typing import Any, Dict, Mapping, Optional

OCF_SUCCESS = 0
OCF_ERR_GENERIC = 1
OCF_ERR_ARGS = 2
OCF_ERR_UNIMPLEMENTED = 3
OCF_ERR_PERM = 4
OCF_ERR_INSTALLED = 5
OCF_ERR_CONFIGURED = 6
OCF_NOT_RUNNING = 7

# Exactly what resource-agents' ocf_is_true (ocf-shellfuncs) takes for true,
# case and all: the entry point agents/IPaddr2 decides with the same list
# whether a monitor needs Python, so both sides must agree on every value.
TRUE_VALUES = ("yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON")
# The same spellings of false. Any other value is neither: a parameter check
# refuses it rather than guess (ocf_is_true would silently take it as false).
FALSE_VALUES = ("no", "false", "0", "NO", "FALSE", "False", "nein", "off", "OFF")


def ocf_root(environ: Optional[Mapping[str, str]] = None) -> str:
    return (environ if environ is not None else os.environ).get("OCF_ROOT", "/usr/lib/ocf")


def _resource_agents_ocf() -> Any:
    libdir = os.path.join(ocf_root(), "lib", "heartbeat")
    if os.path.isfile(os.path.join(libdir, "ocf.py")):
        if libdir not in sys.path:
            sys.path.append(libdir)
        try:
            import ocf

            return ocf
        except Exception:  # noqa: BLE001 - a broken ocf.py must not break the agent
            return None
    return None


# A log message and an exit reason are cut to these many characters: a 100 KB
# value from the CIB must not become a 100 KB log line (Pacemaker keeps 128
# characters of an exit reason anyway).
MAX_LOG_MESSAGE = 2000
MAX_TRACEBACK = 8000
MAX_EXIT_REASON = 512


def one_line(text: str, limit: int) -> str:
    """text as one printable line: control characters (newlines, escapes)
    become spaces, runs of whitespace one space, cut at limit. A value from
    the CIB or IMDS in a message can then neither start a forged
    "ocf-exit-reason:" line nor forge log lines."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


class SafeLogger:
    """A logger whose every record is one_line(): what the handlers log
    quotes parameters and cloud answers, both untrusted."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    @staticmethod
    def _text(msg: Any, args: Any) -> str:
        try:
            return str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            return " ".join([str(msg)] + [str(a) for a in args])

    def _log(self, level: str, msg: Any, args: Any, limit: int = MAX_LOG_MESSAGE) -> None:
        getattr(self._logger, level)("%s", one_line(self._text(msg, args), limit))

    def debug(self, msg: Any, *args: Any) -> None:
        self._log("debug", msg, args)

    def info(self, msg: Any, *args: Any) -> None:
        self._log("info", msg, args)

    def warning(self, msg: Any, *args: Any) -> None:
        self._log("warning", msg, args)

    def error(self, msg: Any, *args: Any) -> None:
        self._log("error", msg, args)

    def exception(self, msg: Any, *args: Any) -> None:
        """The message and the current traceback, on one line."""
        import traceback

        text = "{} | {}".format(
            self._text(msg, args), " | ".join(traceback.format_exc().splitlines())
        )
        self._log("error", text, (), MAX_TRACEBACK)


class Plumbing:
    """Where exit reasons and log lines go."""

    def __init__(self) -> None:
        self._ocf = _resource_agents_ocf()
        if self._ocf is not None:
            self.logger: Any = SafeLogger(self._ocf.logger)
        else:
            logger = logging.getLogger("ocf:oci:IPaddr2")
            if not logger.handlers:
                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
                logger.addHandler(handler)
                logger.setLevel(logging.INFO)
            self.logger = SafeLogger(logger)

    def exit_reason(self, message: str) -> None:
        # One line: Pacemaker shows it in `pcs status` / crm_mon.
        message = one_line(message, MAX_EXIT_REASON)
        if self._ocf is not None:
            self._ocf.ocf_exit_reason(message)
        else:
            prefix = os.environ.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
            sys.stderr.write("{}{}\n".format(prefix, message))
            sys.stderr.flush()


def is_true(value: Optional[str]) -> bool:
    return value in TRUE_VALUES


def is_bool(value: Optional[str]) -> bool:
    return value in TRUE_VALUES + FALSE_VALUES


def parameters(environ: Mapping[str, str]) -> Dict[str, str]:
    """OCF_RESKEY_<name> -> name, for the resource's own parameters."""
    prefix = "OCF_RESKEY_"
    return {
        k[len(prefix) :]: v
        for k, v in environ.items()
        if k.startswith(prefix) and not k.startswith(prefix + "CRM_meta_")
    }


def meta(environ: Mapping[str, str], name: str) -> Optional[str]:
    return environ.get("OCF_RESKEY_CRM_meta_" + name)


def is_probe(action: str, environ: Mapping[str, str]) -> bool:
    return action == "monitor" and (meta(environ, "interval") or "0") == "0"
