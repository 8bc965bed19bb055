"""Chaos Toolkit experiments, run by seal: an experiment file (JSON, or YAML with a
top-level `method`) is read with the position of every value, converted into the
equivalent seal policy (its hypothesis a steady state, its method the steps, its
rollbacks the scenario's rollbacks), and a run of it is written down as a journal.

`reader`, `values`, `providers`, `convert` and `render` only read the experiment
file; `journal` writes the journal file it is given. Nothing here talks to a cluster:
the converted policy runs through seal's own runtime.
"""
