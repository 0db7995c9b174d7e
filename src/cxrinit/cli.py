"""Project commands for the ``kedro`` CLI (Kedro loads ``<package>.cli``; its commands override the built-in ones).

``kedro run`` is Kedro's own command, options and all, with one change: a failure the project explains
(a bad setting, a missing file, a refused run; :func:`cxrinit.logs.is_project_error`) ends with that
message and the path of the run's log file, which holds the full traceback, instead of a page of
Kedro internals. Any other exception (a bug) keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

import click
from kedro.framework.cli.project import run as kedro_run


@click.group(name="cxrinit")
def cli() -> None:
    """Project commands of cxrinit."""


@cli.command(name="run", params=kedro_run.params, help=kedro_run.help, short_help=kedro_run.short_help,
             context_settings=kedro_run.context_settings)
@click.pass_context
def run(ctx: click.Context, **kwargs: object) -> None:
    from cxrinit import logs

    logs.fit_console()
    try:
        ctx.invoke(kedro_run, **kwargs)
    except click.exceptions.Exit:
        raise
    except Exception as error:
        if not logs.is_project_error(error):
            raise
        path = logs.record_failure(error, Path.cwd())
        try:
            where = path.relative_to(Path.cwd())
        except ValueError:
            where = path
        click.secho(f"\nkedro run failed: {logs.short_message(error)}", fg="red", err=True)
        click.echo(f"(the full traceback is in {where})", err=True)
        ctx.exit(1)
