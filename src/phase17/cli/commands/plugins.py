"""`phase17 plugins`: how plugins load, and the plugin lab's subcommands: check a plugin, start one, and the
compatibility matrix of plugins across vLLM releases."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from phase17.cache import cache_root
from phase17.cli.commands.options import JsonOption
from phase17.cli.console import print_json, reporting_errors, session, show
from phase17.cli.releases import later_minor_releases_of_pin, releases_with_changes
from phase17.cli.workspace import existing_upstream

PluginArgument = Annotated[
    str,
    typer.Argument(
        metavar="PLUGIN",
        help="A plugin's folder, a .whl or .tar.gz file, NAME==VERSION, or NAME (its newest release) from the "
        "package index. Never installed, imported or run.",
    ),
]

commands = typer.Typer(
    name="plugins",
    invoke_without_command=True,
    short_help="How plugins load; check, start or tabulate plugins.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@commands.callback(invoke_without_command=True)
def plugins(context: typer.Context, as_json: JsonOption = False) -> None:
    """How vLLM loads plugins: the entry-point groups upstream reads and where, the builtin platforms and where one
    is chosen, upstream's design doc and example plugins. The subcommands check a real plugin against the
    contract (check), start one (new), and tabulate plugins across releases (matrix).

    Example: phase17 plugins check vllm-spyre==1.10.0 --against 0.33.0
    """
    if context.invoked_subcommand is not None:
        return
    from phase17 import render
    from phase17.instruments.plugins import plugins_report

    with reporting_errors():
        report = plugins_report(existing_upstream())
        if as_json:
            print_json(report.to_data())
        else:
            show(render.plugins_screen(report))


@commands.command(short_help="Meet a plugin with the Platform contract, at the pin (and a release).")
def check(
    plugin: PluginArgument,
    against: Annotated[
        Optional[str],
        typer.Option(metavar="REF", help="Also at this release (a tag or version, fetched into the cache)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """An out-of-tree platform plugin met with vLLM's Platform contract at the pin, read from its files and never
    run: the class its entry point leads to, judged against what it inherits (Platform or an in-tree platform) and
    every call the engine makes of it. Exit 1 when something would fail at run time. With --against REF, at that
    release too, each finding labelled with the releases it holds at.

    Example: phase17 plugins check vllm-spyre==1.10.0 --against 0.33.0
    """
    from phase17 import render
    from phase17.pluginlab.check import check_plugin
    from phase17.pluginlab.source import open_plugin

    with reporting_errors():
        releases, changes = releases_with_changes([against] if against else [])
        tree = open_plugin(plugin, cache_root(), render.RichReporter(session.err, session.verbose))
        report = check_plugin(tree, releases, changes)
        if as_json:
            print_json(report.to_data())
        else:
            show(render.plugin_check_screen(report))
        raise typer.Exit(code=1 if report.fails else 0)


@commands.command(short_help="Write the least a device plugin needs, each hook a TODO.")
def new(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The plugin's Python package name, such as my_device.")],
    directory: Annotated[
        Optional[Path], typer.Option("--dir", metavar="PATH", help="The folder to write it in (default: ./NAME).")
    ] = None,
) -> None:
    """A minimal installable platform plugin: a pyproject.toml with the vllm.platform_plugins entry point, a
    register() function, and a Platform subclass with the attributes the engine reads and, as clear TODOs, the
    hooks the engine calls that Platform does not implement. `plugins check` lists them as what is left to do.

    Example: phase17 plugins new my_device --dir ./my-device-plugin
    """
    from phase17.pluginlab.template import write_plugin

    with reporting_errors():
        written = write_plugin(existing_upstream(), name, directory or Path.cwd() / name)
        session.out.print(
            f"Wrote {written.folder} with {len(written.hooks)} hook(s) to fill in: {', '.join(written.hooks)}. "
            f"Next: phase17 plugins check {written.folder}",
            highlight=False,
            soft_wrap=True,  # a path is what a reader copies: never broken across lines
        )


@commands.command(short_help="Plugins x vLLM releases: ok, warnings or breaks in each cell.")
def matrix(
    plugins: Annotated[list[str], typer.Argument(metavar="PLUGIN...", help="Plugins as for `plugins check`.")],
    releases: Annotated[
        Optional[str],
        typer.Option(
            metavar="A,B,...",
            help="The releases to check against (default: the pin and each later minor release on the index).",
        ),
    ] = None,
    as_json: JsonOption = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the table as Markdown.")] = False,
) -> None:
    """The compatibility table of plugins across vLLM releases: each cell ok, warnings or breaks (the count), and
    each break with the first release it appears at. Each release is fetched once, verified as the pin is, and kept
    in the cache. Exit 1 when any cell breaks.

    Example: phase17 plugins matrix vllm-spyre vllm-rbln==0.12.0 ./my-plugin --releases 0.23.0,0.33.0
    """
    from phase17 import render
    from phase17.errors import Phase17Error
    from phase17.pluginlab.matrix import build_matrix, matrix_markdown
    from phase17.pluginlab.source import PluginTree, open_plugin

    with reporting_errors():
        asked = [ref.strip() for ref in releases.split(",") if ref.strip()] if releases else None
        checked, changes = releases_with_changes(asked if asked is not None else later_minor_releases_of_pin())
        reporter = render.RichReporter(session.err, session.verbose)
        trees: list[PluginTree | tuple[str, Phase17Error]] = []
        for spec in plugins:
            try:
                trees.append(open_plugin(spec, cache_root(), reporter))
            except Phase17Error as error:  # one plugin that cannot be read is a row that says so
                trees.append((spec, error))
        table = build_matrix(trees, checked, changes)
        if as_json:
            print_json(table.to_data())
        elif markdown:
            sys.stdout.write(matrix_markdown(table))
        else:
            show(render.plugin_matrix_screen(table))
        raise typer.Exit(code=1 if table.breaks else 0)
