"""Registry logic: repositories, blobs, uploads, manifests, tags and referrers."""

from __future__ import annotations

import sqlalchemy as sa

from regd.db import Database
from regd.registry.blobs import Blobs
from regd.registry.inventory import Inventory
from regd.registry.manifests import Manifests
from regd.registry.referrers import Referrers
from regd.registry.repositories import Repositories
from regd.registry.tags import Tags
from regd.registry.uploads import Uploads
from regd.storage import BlobStore


class Registry:
    """The registry's services over one database and one blob store."""

    def __init__(self, db: Database, store: BlobStore) -> None:
        self.db = db
        self.store = store
        self.repositories = Repositories(db)
        self.blobs = Blobs(db, store, self.repositories)
        self.uploads = Uploads(db, store, self.repositories, self.blobs)
        self.tags = Tags(db, self.repositories)
        self.manifests = Manifests(db, self.repositories, self.blobs, self.tags)
        self.referrers = Referrers(db, self.repositories)
        self.inventory = Inventory(db, self.repositories, self.blobs, self.manifests, self.uploads)

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))


__all__ = ["Registry"]
