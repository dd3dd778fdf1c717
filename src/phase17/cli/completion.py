"""Shell completion of what readers type: target keys, question numbers, symbol names.

Completion runs on every Tab, so it never raises and never fetches: outside a project, or before upstream/ is
fetched, it offers what it can (the keys) and nothing else.
"""

from __future__ import annotations

from pathlib import Path


def target_keys(incomplete: str) -> list[str]:
    """The reading list's keys that start with what was typed."""
    from phase17.cli.workspace import reading_list  # imported on a Tab, never at start-up

    try:
        return [key for key in reading_list().keys if key.startswith(incomplete)]
    except Exception:  # completion must never break the shell
        return []


def question_numbers(incomplete: str) -> list[str]:
    from phase17.cli.workspace import reading_list

    try:
        return [
            str(question.number) for question in reading_list().questions if str(question.number).startswith(incomplete)
        ]
    except Exception:
        return []


def symbol_names(incomplete: str) -> list[str]:
    """Qualified names defined in the reading targets' files of the project here, from upstream/."""
    from phase17.cli.workspace import reading_list
    from phase17.index.lookup import file_definitions, python_files
    from phase17.index.tree import Tree
    from phase17.upstream.project import locate_project

    try:
        project = locate_project(Path.cwd())
        names: set[str] = set()
        tree = Tree(project.upstream)
        for target in reading_list().targets:
            for path in python_files(tree, target.place):
                names.update(symbol.qualname for symbol in file_definitions(tree, path))
        return sorted(name for name in names if name.startswith(incomplete))
    except Exception:
        return []
