"""Blob storage drivers: where content-addressed bytes live."""

from regd.storage.driver import BlobStore, UploadWriter
from regd.storage.errors import StorageConfigError, StorageUnavailable
from regd.storage.factory import opened_store
from regd.storage.filesystem import FilesystemStore
from regd.storage.objects import DigestLock, ObjectStore

__all__ = [
    "BlobStore",
    "DigestLock",
    "FilesystemStore",
    "ObjectStore",
    "StorageConfigError",
    "StorageUnavailable",
    "UploadWriter",
    "opened_store",
]
