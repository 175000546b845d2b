"""boto3 bucket tagging, ownership controls and CORS (run by bucketcfg_test.go).

usage: boto3_bucketcfg.py BUCKET ORIGIN

Creates BUCKET with tags in its CreateBucketConfiguration, replaces them with
put_bucket_tagging and deletes them; sets BucketOwnerEnforced and tries
ObjectWriter; puts a CORS configuration allowing ORIGIN and reads it back; checks
S3's codes for what is refused. Prints one JSON object.
"""
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
    bucket, origin = sys.argv[1:3]
    s3 = client()
    out = {"codes": {}}
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"Tags": [{"Key": "created-with", "Value": "boto3"}]})
    out["created_tags"] = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]

    tags = [{"Key": "Project", "Value": "Blue"}, {"Key": "cost-center", "Value": "42"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    out["tags"] = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    too_many = [{"Key": "k%d" % i, "Value": "v"} for i in range(51)]
    out["codes"]["too_many_tags"] = code(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": too_many}))
    out["codes"]["aws_prefix"] = code(
        lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "aws:x", "Value": "v"}]}))
    out["tags_after_refusals"] = len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    s3.delete_bucket_tagging(Bucket=bucket)
    out["codes"]["tags_after_delete"] = code(lambda: s3.get_bucket_tagging(Bucket=bucket))

    s3.put_bucket_ownership_controls(Bucket=bucket,
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    out["codes"]["object_writer"] = code(lambda: s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}))
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    out["ownership"] = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]

    out["codes"]["cors_before"] = code(lambda: s3.get_bucket_cors(Bucket=bucket))
    rules = [
        {"ID": "app", "AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000},
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    out["cors"] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    out["codes"]["cors_bad_method"] = code(lambda: s3.put_bucket_cors(
        Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}))
    out["codes"]["cors_two_wildcards"] = code(lambda: s3.put_bucket_cors(
        Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*a*"], "AllowedMethods": ["GET"]}]}))
    out["cors_rules_after_refusals"] = len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"])
    print(json.dumps(out))


main()
