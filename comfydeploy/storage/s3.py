"""S3-compatible storage through boto3 (AWS, R2, MinIO, Spaces; moto's server in tests).
Objects stay private: reads go through presigned GET URLs that expire."""
from __future__ import annotations

from typing import Any, BinaryIO, Mapping

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError


class S3Storage:
    name = "s3"

    def __init__(self, config: Mapping[str, Any]):
        self.bucket = config["S3_BUCKET"]
        if not self.bucket:
            raise RuntimeError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        options = dict(region_name=config["S3_REGION"], aws_access_key_id=config["S3_ACCESS_KEY_ID"],
                       aws_secret_access_key=config["S3_SECRET_ACCESS_KEY"],
                       config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"},
                                         retries={"max_attempts": 3, "mode": "standard"}))
        self.client = boto3.client("s3", endpoint_url=config["S3_ENDPOINT_URL"], **options)
        # Presigned URLs may need another host than the one the app reaches (e.g. a public CDN name).
        public = config.get("S3_PUBLIC_ENDPOINT_URL")
        self.presigner = boto3.client("s3", endpoint_url=public, **options) if public else self.client

    def presign_put(self, key: str, content_type: str, base_url: str, expires: int,
                    max_size: int | None = None, exact_size: int | None = None) -> tuple[str, bool]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if exact_size:
            # Signed into the URL: S3 refuses a body of any other length.
            params["ContentLength"] = exact_size
        url = self.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
        # No ACL: objects stay private, so the node must not send x-amz-acl.
        return url, False

    def presign_get(self, key: str, base_url: str, expires: int, download_name: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        return self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def put_file(self, key: str, fileobj: BinaryIO, content_type: str, limit: int | None = None) -> int:
        counter = _CountingReader(fileobj, limit)
        self.client.upload_fileobj(counter, self.bucket, key, ExtraArgs={"ContentType": content_type})
        return counter.count

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


class _CountingReader:
    def __init__(self, inner: BinaryIO, limit: int | None):
        self.inner, self.limit, self.count = inner, limit, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        self.count += len(chunk)
        if self.limit is not None and self.count > self.limit:
            raise OverflowError(f"upload is larger than {self.limit} bytes")
        return chunk
