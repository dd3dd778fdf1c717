"""One module per group of commands, each a typer app whose commands the main app registers."""
