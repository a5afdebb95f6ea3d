"""Failures of a remote blob store, as the layers above see them."""

from __future__ import annotations


class StorageUnavailable(Exception):
    """The object store failed or did not answer (5xx, timeout, refused connection, quota).

    The message is one line naming the endpoint and the cause; it never holds a secret.
    The /v2/ face answers it with OCI ``UNAVAILABLE`` (503): the client may try again.
    """


class StorageConfigError(Exception):
    """A ``storage_url`` that cannot be used: bad syntax, credentials, or an endpoint that
    refuses them (one line for ``regd``'s start-up error)."""
