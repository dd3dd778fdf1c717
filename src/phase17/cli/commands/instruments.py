"""The study instruments' commands: where a name is used, the contract, how plugins load."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from phase17.cli.commands.options import JsonOption
from phase17.cli.console import print_json, reporting_errors, session, show
from phase17.cli.releases import release_of
from phase17.cli.workspace import existing_upstream
from phase17.index.tree import Tree

PlatformsOption = Annotated[
    Optional[str],
    typer.Option(metavar="A,B", help="Only these platform classes, subclasses of the base (comma-separated)."),
]
AgainstOption = Annotated[
    Optional[str],
    typer.Option(metavar="REF", help="Also at this release (tag, version or commit; fetched into the cache)."),
]

# Core modules are imported inside the commands that use them: `--help` and a command that parses nothing never
# load tree-sitter, GitPython, rich's syntax module or the fetch code.
commands = typer.Typer()


@commands.command(short_help="Where code uses a name: attributes read, calls, callers.")
def usages(
    name: Annotated[
        str,
        typer.Argument(
            metavar="[NAME]",
            help="A variable (current_platform: its attributes used) or a function or method name (its callers).",
        ),
    ] = "current_platform",
    attribute: Annotated[
        Optional[str], typer.Option("--attr", metavar="NAME", help="Only this attribute (or receiver), every use.")
    ] = None,
    place: Annotated[
        Optional[str],
        typer.Option("--in", metavar="PATH", help="Search below this upstream path (default: vllm)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every place in upstream/vllm that uses a name, in code only (never comments or strings), grouped and counted.

    For a variable, a group per attribute read (current_platform.is_cuda), and for the name itself: (called by
    name) where it is called, (assigned) where it is bound, (referenced) where it is passed or read otherwise.

    Example: phase17 usages current_platform --attr supports_fp8
    """
    from phase17 import render
    from phase17.instruments.usages import close_to_nothing, find_usages

    with reporting_errors():
        upstream = existing_upstream()
        under = (place or "vllm",)  # (the instruments read vLLM's platform layer; a guide is not loaded for them)
        report = find_usages(upstream, name, under=under, attribute=attribute)
        if as_json:
            print_json(report.to_data())
        else:
            show(render.usage_report(report, every=attribute is not None))
        if report.unreadable:
            session.err.print(render.unreadable_notice(report.unreadable))
        if not report.usages:  # nothing is an answer only when the name is right: say what is close, exit 1
            close = close_to_nothing(upstream, name, attribute, under)
            asked = f"{name}.{attribute}" if attribute else name
            hint = f"; did you mean {', '.join(close)}?" if close else "; check the spelling (phase17 resolve NAME)."
            session.err.print(f"No use of {asked} in code below {under[0]}{hint}", highlight=False, markup=False)
            raise typer.Exit(code=1)


@commands.command(short_help="Who overrides what: a base class against every subclass.")
def contract(
    base: Annotated[
        str, typer.Argument(metavar="[BASE]", help="The base class (default Platform); with --vs, the subclass.")
    ] = "Platform",
    members: Annotated[
        Optional[str], typer.Option(metavar="REGEX", help="Only members whose name matches this regex.")
    ] = None,
    platforms: PlatformsOption = None,
    vs: Annotated[
        Optional[str], typer.Option("--vs", metavar="BASE", help="Compare the class BASE names against this base.")
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the matrix as a Markdown table.")] = False,
    against: AgainstOption = None,
    as_json: JsonOption = False,
) -> None:
    """The contract a base class sets and how each subclass in upstream/vllm meets it: a literal value, an
    override (with its line) or inherited (from where), and what each subclass adds. With --against REF, what
    changed in Platform's contract from the pin to that release (fetched into the cache; the pin stays).

    Example: phase17 contract --platforms CpuPlatform,CudaPlatformBase --members 'device|dist|attn'
    """
    with reporting_errors():
        upstream = existing_upstream()
        if against is not None:
            _contract_changes(upstream, against, as_json)
        elif vs is not None:
            _contract_differences(upstream, base, vs, members, as_json)
        else:
            _contract_matrix(upstream, base, members, _names(platforms), as_json=as_json, markdown=markdown)


def _contract_changes(upstream: Tree, against: str, as_json: bool) -> None:
    """`contract --against REF`: what changed in Platform's contract from the pin to that release."""
    from phase17 import render
    from phase17.instruments.changes import kept_contract_changes

    pinned, other, tree = release_of(against)
    changes = kept_contract_changes(upstream, tree, pinned.describe(), other.describe(), other.commit)
    if as_json:
        print_json(changes.to_data())
    else:
        show(render.changes_screen(changes))


def _contract_differences(upstream: Tree, base: str, vs: str, members: str | None, as_json: bool) -> None:
    """`contract CLASS --vs BASE`: where one class departs from another."""
    from phase17 import render
    from phase17.instruments import contract as contracts

    sub, root, differences = contracts.compare(upstream, base, vs, members=members)
    if as_json:
        print_json(
            {
                "class": {"name": sub.name, "path": sub.path, "line": sub.line},
                "base": {"name": root.name, "path": root.path, "line": root.line},
                "differences": [vars(item) for item in differences],
            }
        )
    else:
        show(render.differences_table(sub, root, differences))


def _contract_matrix(
    upstream: Tree, base: str, members: str | None, platforms: tuple[str, ...], *, as_json: bool, markdown: bool
) -> None:
    """`contract [BASE]`: every subclass against the base, and the attention backends each one names."""
    from phase17 import render
    from phase17.instruments import contract as contracts

    matrix = contracts.build_contract(
        upstream,
        base,
        contracts.BASE_PATH if base == contracts.BASE_NAME else None,
        members=members,
        platforms=platforms,
    )
    backends = contracts.backends_shown(upstream, matrix)
    if as_json:
        named = {platform: [choice.to_data() for choice in choices] for platform, choices in backends.items()}
        print_json({**matrix.to_data(), "attention_backends": named})
    elif markdown:
        sys.stdout.write(contracts.contract_markdown(matrix))
    else:
        show(render.contract_matrix(matrix, backends))


@commands.command(short_help="Every capability gate, each platform's answer, its call sites.")
def gates(
    platforms: PlatformsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every capability predicate of Platform (supports_*, is_*, use_*, ... and any member declared -> bool): what
    each platform answers (a literal, inherited from where, or computed at run time, with its line) and where the
    engine asks it through current_platform. The gates that differ most across platforms come first.

    Example: phase17 gates --platforms CpuPlatform,CudaPlatformBase
    """
    from phase17 import render
    from phase17.instruments.gates import gates_report

    with reporting_errors():
        report = gates_report(existing_upstream(), platforms=_names(platforms))
        if as_json:
            print_json(report.to_data())
        else:
            show(render.gates_screen(report))


@commands.command(short_help="What each platform's hook writes to the config, and when.")
def effects(
    hook: Annotated[
        str, typer.Argument(metavar="[HOOK]", help="A Platform method handed the config.")
    ] = "check_and_update_config",
    platforms: PlatformsOption = None,
    as_json: JsonOption = False,
) -> None:
    """For each platform that overrides HOOK, every config field it writes (through local aliases and the class's
    helpers it hands the config to), the value written, the line, and the conditions it sits under.

    Example: phase17 effects --platforms CpuPlatform
    """
    from phase17 import render
    from phase17.instruments.effects import effects_report

    with reporting_errors():
        report = effects_report(existing_upstream(), hook, platforms=_names(platforms))
        if as_json:
            print_json(report.to_data())
        else:
            show(render.effects_screen(report))


@commands.command(short_help="Who calls a function, and who calls them, a few levels up.")
def callers(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Class.method or a function name.")],
    depth: Annotated[int, typer.Option(min=1, max=6, help="How many levels of callers to follow.")] = 3,
    as_json: JsonOption = False,
) -> None:
    """The tree of functions that call NAME, then their callers, DEPTH levels up, each with the line of the call.
    A call through current_platform.X is a call of every platform's X; C(...) is a call of C.__init__ and of
    C.__post_init__.

    Example: phase17 callers Platform.check_and_update_config --depth 3
    """
    from phase17 import render
    from phase17.instruments.callers import find_callers

    with reporting_errors():
        root = find_callers(existing_upstream(), name, depth)
        if as_json:
            print_json(root.to_data())
        else:
            show(render.callers_tree(root, depth))


def _names(listed: str | None) -> tuple[str, ...]:
    """A comma-separated --platforms value as class names."""
    return tuple(name.strip() for name in listed.split(",") if name.strip()) if listed else ()
