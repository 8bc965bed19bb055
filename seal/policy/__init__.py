"""Policy files: YAML/JSON loading, env interpolation, schema, located errors, typed specs.

Reads files; no network I/O.
"""
