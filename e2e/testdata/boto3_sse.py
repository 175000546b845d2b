"""boto3 with ServerSideEncryption='AES256' (run by sse_test.go).

usage: boto3_sse.py BUCKET PLAIN_BUCKET FILE

put_object and upload_file (multipart above 8 MiB) with SSE-S3 into an encrypted
bucket, head_object and get_object answers, the bucket's default encryption, and
the refusal on a plain bucket. Prints one JSON line.
"""
import hashlib
import json
import sys

from botocore.exceptions import ClientError

from e2eclient import client


def main():
    bucket, plain, path = sys.argv[1:4]
    s3 = client()
    res = {}
    put = s3.put_object(Bucket=bucket, Key="small", Body=b"boto3 secret", ServerSideEncryption="AES256")
    res["put_sse"] = put.get("ServerSideEncryption")
    res["head_sse"] = s3.head_object(Bucket=bucket, Key="small").get("ServerSideEncryption")
    got = s3.get_object(Bucket=bucket, Key="small")
    res["get_sse"] = got.get("ServerSideEncryption")
    res["get_ok"] = got["Body"].read() == b"boto3 secret"
    s3.upload_file(path, bucket, "big", ExtraArgs={"ServerSideEncryption": "AES256"})
    res["big_head_sse"] = s3.head_object(Bucket=bucket, Key="big").get("ServerSideEncryption")
    res["big_sha256"] = hashlib.sha256(s3.get_object(Bucket=bucket, Key="big")["Body"].read()).hexdigest()
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    res["default_sse"] = enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    try:
        s3.put_object(Bucket=plain, Key="x", Body=b"x", ServerSideEncryption="AES256")
        res["plain_error"] = ""
    except ClientError as e:
        res["plain_error"] = e.response["Error"]["Code"]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
