"""boto3 bucket lifecycle configuration round trip (run by lifecycle_test.go).

usage: boto3_lifecycle.py BUCKET DATE

Puts a configuration of every filter form boto3 sends (prefix, tag, And with tags
and sizes, the deprecated rule-level Prefix, a rule without ID) with the expiration
kinds (Days, DATE, noncurrent) and an abort rule, reads it back, then checks the
refusals: a Transition (NotImplemented), Days 0 and a duplicate ID
(InvalidArgument). Prints one JSON object: what the GET returned and the codes.
"""
import datetime
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
    bucket, date = sys.argv[1:3]
    s3 = client()
    when = datetime.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    rules = [
        {"ID": "prefix", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
        {"ID": "tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "scratch", "Value": "yes"}}, "Expiration": {"Days": 1}},
        {"ID": "and", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "big/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                            "ObjectSizeGreaterThan": 1048576, "ObjectSizeLessThan": 1073741824}},
         "Expiration": {"Date": when}},
        {"ID": "legacy", "Status": "Enabled", "Prefix": "old/", "Expiration": {"Days": 7}},
        {"Status": "Enabled", "Filter": {}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 5}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    out = {"rules": got["Rules"], "minimum": got.get("TransitionDefaultMinimumObjectSize", "")}

    transition = [{"ID": "t", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]
    zero = [{"ID": "z", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]
    dup = [rules[0], dict(rules[1], ID="prefix")]
    out["codes"] = {
        name: code(lambda r=r: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": r}))
        for name, r in [("transition", transition), ("days0", zero), ("duplicate", dup)]
    }
    # Refusals changed nothing.
    out["after_refusals"] = len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])
    s3.delete_bucket_lifecycle(Bucket=bucket)
    out["codes"]["get_after_delete"] = code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
