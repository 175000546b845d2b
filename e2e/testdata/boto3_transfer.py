"""boto3 client for the e2e suite (run by clients_test.go).

usage: boto3_transfer.py BUCKET UPLOAD_FILE DOWNLOAD_FILE

Endpoint and credentials come from E2E_* variables; E2E_CA_BUNDLE, when set,
is the CA of the test's TLS front (over https boto3 sends aws-chunked bodies
with trailing checksums instead of signed payload hashes). Everything else is
boto3's default: the newest checksum behaviour (when_supported: CRC32 on every
upload), retries, Expect: 100-continue for file bodies. Prints one JSON object
for the Go test to check.
"""
import hashlib
import json
import sys

from boto3.s3.transfer import TransferConfig

from e2eclient import client

MiB = 1024 * 1024


def main():
    bucket, upload, download = sys.argv[1:4]
    s3 = client()
    result = {}
    s3.create_bucket(Bucket=bucket)

    # Multipart both ways: 5 MiB parts, several in flight.
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    with open(upload, "rb") as f:
        s3.upload_fileobj(f, bucket, "multipart.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="multipart.bin")
    result["multipart_etag"] = head["ETag"]
    result["multipart_size"] = head["ContentLength"]
    with open(download, "wb") as f:
        s3.download_fileobj(bucket, "multipart.bin", f, Config=cfg)

    # A single PutObject with the default CRC32, read back with ChecksumMode.
    body = b"boto3 single put\n" * 1000
    put = s3.put_object(Bucket=bucket, Key="single.txt", Body=body)
    result["put_crc32"] = put.get("ChecksumCRC32", "")
    got = s3.get_object(Bucket=bucket, Key="single.txt", ChecksumMode="ENABLED")
    data = got["Body"].read()  # botocore validates the returned checksum here
    result["single_ok"] = data == body
    result["get_crc32"] = got.get("ChecksumCRC32", "")

    listed = s3.list_objects_v2(Bucket=bucket)
    result["keys"] = sorted(o["Key"] for o in listed.get("Contents", []))
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "single.txt"}]})
    result["sha256_single"] = hashlib.sha256(body).hexdigest()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
