"""The command line: typer commands that parse arguments, call the library, and render."""

from babel.cli.main import app, run

__all__ = [
    'app', 'run',
]
