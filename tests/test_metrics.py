"""The stdout collector: one whole line per event, even from many threads at once."""

from __future__ import annotations

import io
import re
import threading
import time

from seal.metrics import StdoutCollector


class SlowStream(io.StringIO):
    """A stream that yields to other threads between writes, as a pipe can."""

    def write(self, text: str) -> int:
        written = super().write(text)
        time.sleep(0.0001)  # lets another thread run, as a full pipe would
        return written


def test_lines_from_many_threads_stay_whole() -> None:
    stream = SlowStream()
    collector = StdoutCollector(stream)

    def kill_many(worker: int) -> None:
        for number in range(200):
            collector.pod_killed("default", f"pod-{worker}-{number}", "success")

    threads = [threading.Thread(target=kill_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1600
    pattern = re.compile(
        r"seal-metric pod_killed namespace=default name=pod-\d+-\d+ status=success"
    )
    assert all(pattern.fullmatch(line) for line in lines)
    assert len(set(lines)) == 1600
