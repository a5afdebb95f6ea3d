"""Blob storage drivers: where content-addressed bytes live."""

from regd.storage.driver import BlobStore, UploadWriter
from regd.storage.filesystem import FilesystemStore

__all__ = ["BlobStore", "FilesystemStore", "UploadWriter"]
