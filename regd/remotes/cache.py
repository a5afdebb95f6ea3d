"""The pull-through cache's size cap: least recently used cached blobs are evicted.

(Interface stub: the eviction itself is being built.)
"""

from __future__ import annotations

from regd.registry import Registry
from regd.registry.names import Digest
from regd.remotes.config import Remotes


class CacheCap:
    """Keeps the bytes held by pull-through caches under ``cache-size-cap``."""

    def __init__(self, registry: Registry, remotes: Remotes) -> None:
        self._registry = registry
        self._remotes = remotes

    def touch(self, cache_name: str, digest: Digest) -> None:
        """Note a read of a cached blob (cheap: in memory, persisted lazily)."""

    async def enforce(self) -> None:
        """Evict least recently used cached blobs until the cache fits its cap."""
