"""Background load: simulated users sending HTTP requests while a scenario's steps run.

`seal.load.stats` keeps what the requests came to (per-second buckets, a sliding window,
totals) and judges a window against the policy's thresholds; no I/O.
`seal.load.generator` sends the requests: asyncio and aiohttp on an event loop in a
thread of its own, so that the steps keep running on the caller's thread.
"""
