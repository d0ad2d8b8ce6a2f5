"""Portico benchmarks: provisioning, tenancy overhead and scale. Run with `python -m bench`.

Benchmarks print figures; they are not tests and assert nothing about timings. Each one works in a
scratch database of its own and removes it (and the practice roles it created) when it ends.
"""
