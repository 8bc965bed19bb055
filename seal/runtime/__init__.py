"""The policy runner: the loop, scenario execution, retries, the undo journal, the clock.

Does I/O through the adapters and the state directory.
"""
