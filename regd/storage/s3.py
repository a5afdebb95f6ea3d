"""The S3 backend of :class:`~regd.storage.objects.ObjectStore`, on aiobotocore.

Credentials come the AWS way (botocore's chain: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and the shared config files, instance roles);
requests are signed by botocore. With an ``endpoint`` (Ceph RGW, MinIO, Swift's s3api)
requests are path-style and checksums are sent only where the API requires them (older
S3-compatible servers reject the newer default trailers).

Every call is bounded (``timeout=`` of the storage URL): botocore's read timeout, and the
call as a whole (its retries included) by the same number of seconds, except a streamed
GET's body, bounded by the read timeout per read. Over its bound: StorageUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from regd.storage.errors import StorageConfigError, StorageUnavailable
from regd.storage.url import CONNECT_TIMEOUT, StorageLocation

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CopySourceTypeDef

#: Bytes per read of a streamed GET.
READ_CHUNK = 1 << 20
#: Server-side part copies at once when a commit joins the parts of an upload.
COPY_CONCURRENCY = 8
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_T = TypeVar("_T")


def _code(error: Exception) -> str:
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Backend:
    """One bucket through one aiobotocore client."""

    def __init__(self, location: StorageLocation) -> None:
        self._location = location
        self.bucket = location.container
        self.endpoint = location.endpoint or f"s3 (region {location.region or 'default'})"
        self._stack = contextlib.AsyncExitStack()
        self._client: S3Client | None = None
        self._timeout = location.timeout

    @property
    def client(self) -> S3Client:
        assert self._client is not None, "S3Backend.open() first"
        return self._client

    def _failure(self, action: str, error: Exception) -> StorageUnavailable:
        cause = _code(error) or type(error).__name__
        message = str(error).splitlines()[0] if str(error) else cause
        return StorageUnavailable(f"S3 {self.endpoint}: {action} failed: {message}")

    async def _bounded(self, call: Awaitable[_T]) -> _T:
        """``call`` within the timeout (TimeoutError past it)."""
        async with asyncio.timeout(self._timeout):
            return await call

    async def open(self, create: bool = True) -> None:
        """Connect, check the credentials and the bucket; create the bucket when missing."""
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
        from botocore.exceptions import BotoCoreError, ClientError

        config = AioConfig(
            s3={"addressing_style": "path"} if self._location.endpoint else {},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=min(CONNECT_TIMEOUT, self._timeout),
            read_timeout=self._timeout,
            max_pool_connections=64,
        )
        session = get_session()
        try:
            self._client = await self._stack.enter_async_context(
                session.create_client(
                    "s3",
                    endpoint_url=self._location.endpoint,
                    region_name=self._location.region,
                    config=config,
                )
            )
            try:
                await self._bounded(self.client.head_bucket(Bucket=self.bucket))
            except ClientError as error:
                if _code(error) not in _NOT_FOUND or not create:
                    raise
                await self._bounded(self.client.create_bucket(Bucket=self.bucket))
        except (BotoCoreError, ClientError, TimeoutError) as error:
            await self._stack.aclose()
            cause = _code(error) or type(error).__name__
            detail = str(error).splitlines()[0] if str(error) else cause
            raise StorageConfigError(
                f"S3 bucket {self.bucket!r} at {self.endpoint}: {detail}"
            ) from None

    async def close(self) -> None:
        await self._stack.aclose()

    async def head(self, key: str) -> int | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = await self._bounded(self.client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                return None
            raise self._failure(f"HEAD {key}", error) from None
        except (BotoCoreError, TimeoutError) as error:
            raise self._failure(f"HEAD {key}", error) from None
        return int(response["ContentLength"])

    async def get(
        self, key: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        if length == 0:
            return
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            arguments["Range"] = f"bytes={offset}-{end}"
        try:
            response = await self._bounded(self.client.get_object(**arguments))
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                raise FileNotFoundError(key) from None
            if _code(error) == "InvalidRange":
                return
            raise self._failure(f"GET {key}", error) from None
        except (BotoCoreError, TimeoutError) as error:
            raise self._failure(f"GET {key}", error) from None
        async with response["Body"] as body:
            try:
                async for chunk in body.iter_chunks(READ_CHUNK):
                    yield chunk
            except (BotoCoreError, OSError) as error:  # TimeoutError is an OSError
                raise self._failure(f"GET {key}", error) from None

    async def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await self._bounded(self.client.put_object(Bucket=self.bucket, Key=key, Body=data))
        except (BotoCoreError, ClientError, TimeoutError) as error:
            raise self._failure(f"PUT {key}", error) from None

    async def delete(self, key: str) -> bool:
        """Whether the object existed (one HEAD first: S3's DELETE does not say)."""
        from botocore.exceptions import BotoCoreError, ClientError

        existed = await self.head(key) is not None
        if not existed:
            return False
        try:
            await self._bounded(self.client.delete_object(Bucket=self.bucket, Key=key))
        except (BotoCoreError, ClientError, TimeoutError) as error:
            raise self._failure(f"DELETE {key}", error) from None
        return True

    async def delete_composed(self, key: str) -> bool:
        return await self.delete(key)

    async def list(self, prefix: str) -> AsyncIterator[tuple[str, float]]:
        from botocore.exceptions import BotoCoreError, ClientError

        paginator = self.client.get_paginator("list_objects_v2")
        try:
            pages = aiter(paginator.paginate(Bucket=self.bucket, Prefix=prefix))
            while (page := await self._bounded(anext(pages, None))) is not None:
                for entry in page.get("Contents", []):
                    yield entry["Key"], entry["LastModified"].timestamp()
        except (BotoCoreError, ClientError, TimeoutError) as error:
            raise self._failure(f"LIST {prefix}", error) from None

    async def compose(self, key: str, parts: Sequence[tuple[str, int]]) -> None:
        """One part: CopyObject; more: a multipart upload of UploadPartCopy (server-side).
        Either way the key appears only when complete; the parts are deleted after."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if not parts:
                await self._bounded(self.client.put_object(Bucket=self.bucket, Key=key, Body=b""))
            elif len(parts) == 1:
                source: CopySourceTypeDef = {"Bucket": self.bucket, "Key": parts[0][0]}
                await self._bounded(
                    self.client.copy_object(Bucket=self.bucket, Key=key, CopySource=source)
                )
            else:
                await self._copy_multipart(key, parts)
        except (BotoCoreError, ClientError, TimeoutError) as error:
            raise self._failure(f"commit {key}", error) from None
        with contextlib.suppress(BotoCoreError, ClientError, TimeoutError):
            for start in range(0, len(parts), 1000):  # DeleteObjects takes 1000 keys
                batch = [{"Key": part} for part, _ in parts[start : start + 1000]]
                await self._bounded(
                    self.client.delete_objects(
                        Bucket=self.bucket,
                        Delete={"Objects": batch, "Quiet": True},  # type: ignore[typeddict-item]
                    )
                )

    async def _copy_multipart(self, key: str, parts: Sequence[tuple[str, int]]) -> None:
        created = await self._bounded(
            self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        )
        upload_id = created["UploadId"]
        slots = asyncio.Semaphore(COPY_CONCURRENCY)

        async def copy(number: int, part: str, size: int) -> dict[str, Any]:
            async with slots:
                copied = await self._bounded(
                    self.client.upload_part_copy(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource={"Bucket": self.bucket, "Key": part},
                        CopySourceRange=f"bytes=0-{size - 1}",
                    )
                )
            return {"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]}

        copies = [
            asyncio.ensure_future(copy(number, part, size))
            for number, (part, size) in enumerate(parts, start=1)
        ]
        try:
            completed = await asyncio.gather(*copies)
            await self._bounded(
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
                )
            )
        except BaseException:
            for pending in copies:
                pending.cancel()
            await asyncio.gather(*copies, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._bounded(
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload_id
                    )
                )
            raise

    async def parts_of(self, key: str) -> set[str]:
        return set()  # compose copies the parts

    async def abort_incomplete(self, prefix: str, older_than: float) -> int:
        """Abort the multipart uploads under ``prefix`` begun before ``older_than``."""
        from botocore.exceptions import BotoCoreError, ClientError

        aborted = 0
        try:
            pages = aiter(
                self.client.get_paginator("list_multipart_uploads").paginate(
                    Bucket=self.bucket, Prefix=prefix
                )
            )
            while (page := await self._bounded(anext(pages, None))) is not None:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() >= older_than:
                        continue
                    await self._bounded(
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    )
                    aborted += 1
        except (BotoCoreError, ClientError, TimeoutError) as error:
            raise self._failure(f"LIST multipart uploads {prefix}", error) from None
        return aborted

    async def signed_url(self, key: str, expires: int) -> str:
        """A GET URL for ``key`` valid ``expires`` seconds (signed by botocore)."""
        url: str = await self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
        )
        return url
