"""`python -m babel.cli`."""

from babel.cli.main import run

run()
