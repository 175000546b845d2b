"""boto3 generate_presigned_post, sent as a multipart/form-data POST written with
Python's standard library (run by post_test.go).

usage: boto3_post.py BUCKET FILE

Prints one JSON line: the status, ETag and body of the upload of FILE under
"forms/${filename}" (success_action_status 201, a user metadata field, a
content-length-range), and the status and body of a second form whose file is
one byte over its content-length-range.
"""
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

from e2eclient import client


def post(url, fields, filename, data):
    """POST fields, then the file, as a browser's form would (fields before file)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    body = b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.headers.get("ETag", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, "", e.read().decode()


def main():
    bucket, path = sys.argv[1:3]
    s3 = client(signature_version="s3v4")
    with open(path, "rb") as f:
        data = f.read()
    p = s3.generate_presigned_post(
        bucket,
        "forms/${filename}",
        Fields={"success_action_status": "201", "x-amz-meta-origin": "boto3"},
        Conditions=[
            {"success_action_status": "201"},
            {"x-amz-meta-origin": "boto3"},
            ["starts-with", "$key", "forms/"],
            ["content-length-range", 1, len(data)],
        ],
        ExpiresIn=600,
    )
    status, etag, body = post(p["url"], p["fields"], os.path.basename(path), data)
    small = s3.generate_presigned_post(
        bucket, "too-big", Conditions=[["content-length-range", 0, len(data) - 1]], ExpiresIn=600
    )
    over_status, _, over_body = post(small["url"], small["fields"], "x", data)
    print(json.dumps({"status": status, "etag": etag, "body": body,
                      "over_status": over_status, "over_body": over_body}))


if __name__ == "__main__":
    main()
