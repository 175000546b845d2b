"""boto3 without credentials (signature_version=UNSIGNED) against a public bucket
(run by policy_test.go).

usage: boto3_anonymous.py BUCKET KEY

Reads KEY from BUCKET, heads it and lists the bucket with an unsigned client, and
tries to upload and to list all buckets (which a read-only public bucket refuses).
Prints one JSON object.
"""
import hashlib
import json
import sys

from botocore.exceptions import ClientError

from e2eclient import client


def code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "OK"


def main():
    bucket, key = sys.argv[1:3]
    s3 = client(anonymous=True)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    out = {
        "sha256": hashlib.sha256(body).hexdigest(),
        "head_size": s3.head_object(Bucket=bucket, Key=key)["ContentLength"],
        "keys": [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])],
        "put": code(lambda: s3.put_object(Bucket=bucket, Key="anon-upload", Body=b"x")),
        "list_buckets": code(lambda: s3.list_buckets()),
        "missing_bucket": code(lambda: s3.get_object(Bucket="no-such-bucket-anon", Key=key)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
