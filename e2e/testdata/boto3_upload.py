"""boto3 upload_file with boto3's defaults (run by instant_test.go).

usage: boto3_upload.py BUCKET KEY FILE

Default TransferConfig: multipart above 8 MiB in 8 MiB parts, each part a
file-like body, so botocore sends its signed SHA-256 and Expect: 100-continue.
"""
import sys

from e2eclient import client


def main():
    bucket, key, path = sys.argv[1:4]
    s3 = client()
    s3.upload_file(path, bucket, key)
    print(s3.head_object(Bucket=bucket, Key=key)["ETag"])


if __name__ == "__main__":
    main()
