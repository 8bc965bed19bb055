"""seal: a chaos-engineering daemon for Kubernetes.

The package root holds only the version; importing it does no I/O and pulls in
nothing heavy, so that `seal validate` and `seal --version` start fast.
"""

__version__ = "0.1.0"
