"""Step types, one module each: its spec, its schema fragment, and how it runs.

Steps act on the outside world only through the adapters in their context.
"""
