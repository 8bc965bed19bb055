"""Lets `python -m seal` run the command line."""

from seal.cli import run

run()
