"""The ``opensearch-llm`` command line: parse, call one library function, render, exit code.

Library modules are imported inside each command so ``--help`` stays fast (``logging`` too: the
root ``--help`` and ``--version`` exit before the group callback runs).
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

import click

from opensearch_llm.cli import _commands

EXAMPLE = """
\b
Example:
  opensearch-llm local start
  opensearch-llm up connectors/deepseek-chat.yaml
"""


@click.group(help="Provision remote LLMs into OpenSearch ML Commons, prove they answer, remove them.\n" + EXAMPLE)
@click.version_option(package_name="opensearch-llm", prog_name="opensearch-llm")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for HTTP).")
def cli(verbose: int) -> None:
    """Root command group."""
    import logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # opensearch-py logs every non-2xx at WARNING; 404s are expected answers here, errors are ours to report
    logging.getLogger("opensearch").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    import warnings

    # ML Commons' own searches of its system indices come back with this deprecation header: nothing the user
    # can act on (our requests name no system index)
    warnings.filterwarnings("ignore", message="this request accesses system indices")


_commands.register(cli)


def _report(exc: BaseException) -> int:
    from opensearch_llm.errors import NodeStartError, OpenSearchLLMError
    from opensearch_llm.secrets import mask_text

    if isinstance(exc, OpenSearchLLMError):
        click.echo(mask_text(f"error: {exc}"), err=True)
        if isinstance(exc, NodeStartError) and exc.log_tail:
            click.echo("--- last log lines ---\n" + mask_text(exc.log_tail), err=True)
        for note in getattr(exc, "__notes__", []):
            click.echo(mask_text(f"  {note}"), err=True)
        return exc.exit_code
    import traceback

    # a bug of ours or of a dependency: show it, but never a secret that its text may carry
    click.echo(mask_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))), err=True)
    click.echo(mask_text(f"error: unexpected {type(exc).__name__}: {exc} (please report this)"), err=True)
    return 1


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Console-script entry point: map errors to exit codes (1 failed, 2 bad input, 3 leftovers, 130)."""
    from opensearch_llm.cli.streams import guard_standard_streams

    guard_standard_streams()  # a closed pipe or terminal never stops a run half-way
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="opensearch-llm",
                      standalone_mode=False)
    except click.exceptions.Abort as exc:
        from opensearch_llm.secrets import mask_text

        click.echo("interrupted", err=True)
        for note in getattr(exc.__cause__ or exc.__context__, "__notes__", []):
            click.echo(mask_text(f"  {note}"), err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - only our errors are rendered, others re-raise
        sys.exit(_report(exc))
    sys.exit(rv if isinstance(rv, int) else 0)
