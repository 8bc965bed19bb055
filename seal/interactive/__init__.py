"""`seal interactive`: a shell to explore a cluster and break it by hand, safely.

Every action is a policy step run through the same engine, safety rules and undo
journal as autonomous mode, so a session can be recorded as a policy and replayed.
Does I/O: the cluster, the terminal, the history and recording files.
"""
