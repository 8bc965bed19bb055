"""The sandbox: a simulated Kubernetes cluster that speaks the real API on loopback.

Runs servers on 127.x.y.z addresses; used by `--sandbox` runs and by the tests.
"""
