"""A read-only, seekable file over one S3 object (an upload), read by ranged GETs in bounded blocks.

PyAV reads a two-hour video through it without the video ever being held in memory or on disk.
"""
from __future__ import annotations

import collections
import io
from typing import Any

from media_pipeline.aws import client
from media_pipeline.errors import TransientError, upload_read_error
from media_pipeline.media_streams import Progress


class S3RangeReader(io.RawIOBase):
    """A read-only, seekable file over one S3 object, fetched in blocks by ranged GETs.

    At most `max_blocks` buffers of `block_size` bytes are ever allocated; they are reused (least
    recently used first), so memory stays flat whatever the object's size, and sequential reads cost
    one GET per block.
    """

    def __init__(self, bucket: str, key: str, *, version_id: str | None = None, size: int | None = None,
                 block_size: int = 4 * 1024 * 1024, max_blocks: int = 4, on_read: Progress | None = None):
        super().__init__()
        self.bucket, self.key, self.version_id = bucket, key, version_id
        self.on_read = on_read
        self.block_size, self.max_blocks = block_size, max(1, max_blocks)
        self._blocks: collections.OrderedDict[int, tuple[bytearray, int]] = collections.OrderedDict()
        self._position = 0
        self.requests = 0
        self.bytes_fetched = 0
        self.size = size if size is not None else self._head_size()

    def _extra(self) -> dict[str, str]:
        return {"VersionId": self.version_id} if self.version_id else {}

    def _head_size(self) -> int:
        try:
            return int(client("s3").head_object(Bucket=self.bucket, Key=self.key, **self._extra())["ContentLength"])
        except Exception as exc:  # noqa: BLE001 - translated into a typed failure
            raise upload_read_error(exc, self.bucket, self.key, self.version_id) from exc

    def _block(self, index: int) -> memoryview:
        cached = self._blocks.get(index)
        if cached is not None:
            self._blocks.move_to_end(index)
            return memoryview(cached[0])[:cached[1]]
        if len(self._blocks) >= self.max_blocks:
            buffer = self._blocks.popitem(last=False)[1][0]
        else:
            buffer = bytearray(self.block_size)
        start = index * self.block_size
        length = min(self.size, start + self.block_size) - start
        view = memoryview(buffer)
        try:
            response = client("s3").get_object(Bucket=self.bucket, Key=self.key,
                                               Range=f"bytes={start}-{start + length - 1}", **self._extra())
            body, got = response["Body"], 0
            while got < length:  # read straight into the reused buffer: no per-block allocation
                count = body.readinto(view[got:length])
                if not count:
                    break
                got += count
        except Exception as exc:  # noqa: BLE001 - translated into a typed failure
            raise upload_read_error(exc, self.bucket, self.key, self.version_id) from exc
        if got < length:
            raise TransientError(f"short read of s3://{self.bucket}/{self.key} at {start}: {got} of {length} bytes",
                                 code="S3_READ_FAILED")
        self.requests += 1
        self.bytes_fetched += length
        self._blocks[index] = (buffer, length)
        if self.on_read is not None:
            self.on_read()
        return view[:length]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self._position))
        done = 0
        while done < wanted:
            index, within = divmod(self._position, self.block_size)
            block = self._block(index)
            count = min(wanted - done, len(block) - within)
            if count <= 0:
                break
            view[done:done + count] = block[within:within + count]
            done += count
            self._position += count
        return done

    @property
    def buffered_bytes(self) -> int:
        return sum(len(buffer) for buffer, _ in self._blocks.values())
