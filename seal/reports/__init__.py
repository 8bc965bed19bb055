"""Reports of a run for people and machines, written with `--report-dir`: a JSON journal
of every scenario run (its schema published by `seal schema --report`), and per policy
run a JUnit XML file for CI pipelines and a self-contained HTML page.

`writer` does the file I/O; the other modules turn outcomes into documents and do none.
"""
