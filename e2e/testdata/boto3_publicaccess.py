"""boto3 Block Public Access per bucket (run by publicaccess_test.go), against a
server whose gateway-wide block_public_policy is off, so that the bucket decides.

usage: boto3_publicaccess.py BUCKET

Creates BUCKET with one object; puts, gets and deletes its PublicAccessBlock
configuration; checks that BlockPublicPolicy refuses a public policy, that
RestrictPublicBuckets keeps an unsigned client out of a bucket with a public policy
(and GetBucketPolicyStatus says so), that a public ACL is refused, and S3's codes for
what is refused. Prints one JSON object.
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
    bucket = sys.argv[1]
    s3, anon = client(), client(anonymous=True)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"public page")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % bucket}]})

    def anon_get():
        anon.get_object(Bucket=bucket, Key="index.html")["Body"].read()

    def status():
        return s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"]

    out = {"codes": {}}
    out["codes"]["get_before"] = code(lambda: s3.get_public_access_block(Bucket=bucket))
    out["codes"]["empty"] = code(lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={}))

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True, "BlockPublicAcls": True})
    out["blocking"] = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    out["codes"]["public_policy_blocked"] = code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy))
    out["codes"]["public_acl"] = code(lambda: s3.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="public-read"))

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    out["restricting"] = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    out["codes"]["public_policy_restricted"] = code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy))
    out["restricted_is_public"] = status()
    out["codes"]["anonymous_restricted"] = code(anon_get)

    s3.delete_public_access_block(Bucket=bucket)
    out["codes"]["get_after_delete"] = code(lambda: s3.get_public_access_block(Bucket=bucket))
    out["unrestricted_is_public"] = status()
    out["codes"]["anonymous_unrestricted"] = code(anon_get)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
