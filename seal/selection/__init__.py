"""Target selection: matchers, filters and the matcher -> filter pipeline.

Pure logic over targets handed in by the caller; no I/O of its own.
"""
