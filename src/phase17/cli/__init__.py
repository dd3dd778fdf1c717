"""The command line: argv, the typer app and its commands, prompts, the pager; the only importer of typer."""
