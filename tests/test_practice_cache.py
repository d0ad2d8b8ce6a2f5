"""The per-process cache of address -> practice stays within PORTICO_PRACTICE_CACHE_SIZE, whatever
hosts a visitor makes up (misses are cached too)."""

from __future__ import annotations

from dataclasses import replace

from tenants import registry


def test_ten_thousand_made_up_hosts_do_not_grow_the_cache_past_its_bound(app, make_practice, monkeypatch):
    practice = make_practice()
    bounded = replace(app.config["PORTICO"], practice_cache_seconds=600, practice_cache_size=100)
    monkeypatch.setitem(app.config, "PORTICO", bounded)
    # The registry's answer for a made-up address is None; asking the database 10,000 times for it
    # would only make this test slow.
    asked = []
    real_lookup = registry._lookup_uncached

    def lookup(slug):
        asked.append(slug)
        return None if slug.startswith("made-up-") else real_lookup(slug)

    monkeypatch.setattr(registry, "_lookup_uncached", lookup)
    largest = 0
    with app.app_context():
        assert registry.lookup_address(practice.slug).id == practice.id
        for number in range(10_000):
            assert registry.lookup_address(f"made-up-{number}") is None
            largest = max(largest, len(registry._cache))
        assert largest == 100
        assert registry.lookup_address("made-up-9999") is None  # a recent miss: from the cache
        assert asked.count("made-up-9999") == 1
        assert registry.lookup_address(practice.slug).id == practice.id  # evicted long ago: asked again
        assert asked.count(practice.slug) == 2


def test_a_change_made_by_another_process_reaches_this_cache_by_notify(app, make_practice, monkeypatch):
    """Rename and suspend send NOTIFY portico_registry with their transaction; each process listens
    and empties its cache. Here this process's own invalidation is switched off for the change, so
    only the notification can clear what it cached."""
    import time

    practice = make_practice()
    cached = replace(app.config["PORTICO"], practice_cache_seconds=600)
    monkeypatch.setitem(app.config, "PORTICO", cached)
    with app.app_context():
        registry.lookup_address(practice.slug)
        deadline = time.monotonic() + 10
        while not registry._listener.listening and time.monotonic() < deadline:
            time.sleep(0.05)
        assert registry._listener.listening
        assert registry.lookup_address(practice.slug).id == practice.id  # cached now

        def changed_elsewhere(change):
            with monkeypatch.context() as patch:
                patch.setattr(registry, "invalidate_cache", lambda: None)  # as in another process
                change()
            deadline = time.monotonic() + 10
            while registry._cache.get(practice.slug) is not None and time.monotonic() < deadline:
                time.sleep(0.02)

        changed_elsewhere(lambda: registry.set_status(str(practice.id), "suspended"))
        assert registry.lookup_address(practice.slug) is None
        changed_elsewhere(lambda: registry.set_status(str(practice.id), "active"))
        assert registry.lookup_address(practice.slug).id == practice.id
        changed_elsewhere(lambda: registry.rename_practice(str(practice.id), practice.slug + "-new"))
        assert registry.lookup_address(practice.slug) == registry.MovedTo(practice.slug + "-new")
        assert registry.lookup_address(practice.slug + "-new").id == practice.id
