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
        hint = _namespace_hint(error, kwargs) or _usage_hint(error, kwargs)
        if hint:
            click.secho(f"\nkedro run failed: {hint}", fg="red", err=True)
            ctx.exit(1)
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


def _usage_hint(error: Exception, options: dict[str, object]) -> str | None:
    """A mistyped ``--env`` or ``--pipelines``: Kedro's own message, without its traceback (nothing ran)."""
    env = options.get("env")
    conf = Path.cwd() / "conf"
    if env and type(error).__name__ == "MissingConfigException" and not (conf / str(env)).is_dir():
        known = sorted(p.name for p in conf.iterdir() if p.is_dir()) if conf.is_dir() else []
        return f"no Kedro environment {env!r}: conf/{env} does not exist (environments here: {', '.join(known)})"
    if isinstance(error, ValueError) and str(error).startswith("Failed to find the pipeline named"):
        return str(error)
    return None


def _namespace_hint(error: Exception, options: dict[str, object]) -> str | None:
    """Kedro's "Pipeline does not contain nodes with the following namespaces" says neither which
    namespaces there are nor that a source may be disabled: say both."""
    if not (isinstance(error, ValueError) and "does not contain nodes with the following namespaces" in str(error)):
        return None
    import difflib

    from cxrinit.pipelines.layout import load_layout

    env = options.get("env")
    params = options.get("params") if isinstance(options.get("params"), dict) else None
    try:
        layout = load_layout(Path.cwd(), str(env) if env else None, params)
    except Exception:  # noqa: BLE001  (the hint is a courtesy: never hide Kedro's own message)
        return None
    known = [*layout.sources, *(f"{s}.{i}" for s, i in layout.cells()), *layout.pretraining_cells()]
    asked = options.get("namespaces") or ()
    asked = [n for part in (asked if isinstance(asked, (list, tuple)) else [asked]) for n in str(part).split(",") if n]
    lines = []
    for name in asked:
        if name in known:
            continue
        source = name.split(".")[0]
        if source not in layout.sources and _configured(source, env, params):
            lines.append(f"`{name}`: the source {source!r} is disabled in this environment "
                         f"(sources.{source}.enabled: false)")
        else:
            close = difflib.get_close_matches(name, known, n=1)
            lines.append(f"`{name}`: no such namespace" + (f" (did you mean `{close[0]}`?)" if close else ""))
    return (f"{error}\n" + "\n".join(f"  - {line}" for line in lines)
            + f"\nnamespaces here: {', '.join(layout.sources)} (sources), <source>.<init> (cells, e.g. "
            f"{known[len(layout.sources)] if len(known) > len(layout.sources) else 'none'})")


def _configured(source: str, env: object, params: dict | None) -> bool:
    from kedro.framework.project import settings

    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(Path.cwd() / settings.CONF_SOURCE),
                                          env=str(env) if env else None, runtime_params=params,
                                          **settings.CONFIG_LOADER_ARGS)
    return source in (loader["parameters"].get("sources") or {})
