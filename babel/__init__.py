"""Babel: plain-language requests compiled into small, checked plans and run in a sandbox.

The package is a library first and a CLI second: every stage of the pipeline
(compile, verify, decode, run, control) is a function that takes and returns plain
values, and `babel.cli` is a thin shell over them.
"""

__version__ = "0.1.0"
