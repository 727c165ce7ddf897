# PYTHON_ARGCOMPLETE_OK
"""Entry point of the `pcs-oci` command: parse, dispatch, print errors once."""

import argparse
import importlib
import sys
from typing import Any, Callable, Optional, Sequence

from pcs_oci.cli.parser import build_parser
from pcs_oci.common import exit_codes


def _autocomplete(parser: argparse.ArgumentParser) -> None:
    # Before anything heavy is imported: this runs on every TAB press.
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def _handler(name: str) -> Callable[..., int]:
    module, _, function = name.partition(":")
    found: Callable[..., int] = getattr(importlib.import_module(module), function)
    return found


def no_verb(env: Any, args: argparse.Namespace) -> int:
    args._parser.print_help(sys.stderr)
    return exit_codes.USAGE


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    _autocomplete(parser)
    args = parser.parse_args(argv)

    from pcs_oci.cli import output
    from pcs_oci.lib.env import Env
    from pcs_oci.lib.errors import PcsOciError

    if getattr(args, "cib_file", None) and not getattr(args, "cib_file_ok", False):
        print(
            "Error: -f CIB_FILE works with configure, unconfigure and migrate only",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    env = Env(config_path=args.config, cib_file=getattr(args, "cib_file", None))
    try:
        rc = _handler(args.handler)(env, args)
    except PcsOciError as e:
        # What the command reported before it failed, then why it failed.
        output.print_reports(env.reports + e.reports)
        return e.exit_code
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        return exit_codes.OK
    except Exception as e:  # noqa: BLE001 - the one place that must not show a traceback
        if args.debug:
            raise
        print(
            "Error: internal error: {}: {} (run with --debug for the traceback, "
            "and report it)".format(type(e).__name__, e),
            file=sys.stderr,
        )
        return exit_codes.INTERNAL
    output.print_reports(env.reports)
    return rc


if __name__ == "__main__":
    sys.exit(main())
