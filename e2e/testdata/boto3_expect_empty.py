"""An empty upload, then one with a body, on one connection (run by clients_test.go).

usage: boto3_expect_empty.py BUCKET

Both bodies are files, so botocore sends Expect: 100-continue for each. The server
answers the empty one at once, without a 100 Continue (there is nothing to ask for);
botocore then keeps that answer's status line for the connection, and, were the
connection reused, would misread the next answer and wait for its read timeout. One
connection in the pool, a short read timeout and no retries make that a failure here.
"""
import os
import sys
import tempfile
import time

from e2eclient import client



def main():
    bucket = sys.argv[1]
    s3 = client(max_pool_connections=1, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"})
    s3.create_bucket(Bucket=bucket)
    with tempfile.TemporaryDirectory() as d:
        empty, full = os.path.join(d, "empty"), os.path.join(d, "full")
        open(empty, "wb").close()
        with open(full, "wb") as f:
            f.write(os.urandom(50 * 1024))
        start = time.monotonic()
        for key, path in (("empty", empty), ("full", full), ("empty-again", empty), ("full-again", full)):
            with open(path, "rb") as body:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        print("%.3f" % (time.monotonic() - start))


if __name__ == "__main__":
    main()
