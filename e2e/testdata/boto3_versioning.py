"""boto3 against a versioned bucket (run by versioning_test.go).

usage: boto3_versioning.py BUCKET

Enables versioning, writes versions of three keys and a delete marker, lists them with
the paginator two at a time, reads a version back, makes a version by a multipart
upload and one by a copy from an old version, then removes every other version and the
marker with DeleteObjects. Prints one JSON object.
"""
import json
import sys

from e2eclient import client


def main():
    bucket = sys.argv[1]
    s3 = client()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = {}
    for key, n in (("a", 3), ("b", 3), ("c", 2)):
        for i in range(n):
            r = s3.put_object(Bucket=bucket, Key=key, Body=f"v{i} of {key}".encode())
            ids.setdefault(key, []).append(r["VersionId"])
    marker = s3.delete_object(Bucket=bucket, Key="c")["VersionId"]

    pages, listed = 0, []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
        pages += 1
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            listed.append(f'{v["Key"]}:{v["VersionId"]}')

    got = s3.get_object(Bucket=bucket, Key="a", VersionId=ids["a"][0])["Body"].read().decode()

    part = b"p" * (5 << 20)
    up = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="a", UploadId=up, PartNumber=n, Body=part)["ETag"] for n in (1, 2)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="a", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]})
    mp = done.get("VersionId", "")
    cp = s3.copy_object(Bucket=bucket, Key="a", CopySource={"Bucket": bucket, "Key": "a", "VersionId": ids["a"][0]}).get("VersionId", "")

    doomed = [{"Key": "a", "VersionId": v} for v in ids["a"]]
    doomed += [{"Key": "b", "VersionId": v} for v in ids["b"]]
    doomed += [{"Key": "c", "VersionId": v} for v in ids["c"] + [marker]]
    res = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
    left = s3.list_object_versions(Bucket=bucket)
    label = {mp: "mp", cp: "copy"}
    print(json.dumps({
        "pages": pages,
        "listed": listed,
        "got_version": got,
        "multipart_version": bool(mp),
        "copy_version": bool(cp),
        "deleted": [f'{d["Key"]}:{d.get("VersionId", "")}' for d in res.get("Deleted", [])],
        "errors": res.get("Errors", []),
        "remaining": [f'{v["Key"]}:{label.get(v["VersionId"], v["VersionId"])}' for v in left.get("Versions", [])],
        "markers": [m["VersionId"] for m in left.get("DeleteMarkers", [])],
    }))


if __name__ == "__main__":
    main()
