"""The boto3 client of the e2e scripts: the server, credentials and region from the
environment the Go tests set (E2E_ENDPOINT, E2E_ACCESS_KEY, E2E_SECRET_KEY,
E2E_REGION, and E2E_CA_BUNDLE over https), path-style addressing.

The scripts import it from their own directory (Python puts a script's directory first
on its path).
"""
import os

import boto3
from botocore import UNSIGNED
from botocore.config import Config


def client(anonymous=False, **settings):
    """An S3 client; anonymous sends unsigned requests, settings are more botocore
    Config settings."""
    settings.setdefault("s3", {"addressing_style": "path"})
    kw = {}
    if anonymous:
        settings["signature_version"] = UNSIGNED
    else:
        kw = {"aws_access_key_id": os.environ["E2E_ACCESS_KEY"], "aws_secret_access_key": os.environ["E2E_SECRET_KEY"]}
    return boto3.client("s3", endpoint_url=os.environ["E2E_ENDPOINT"], region_name=os.environ["E2E_REGION"],
                        verify=os.environ.get("E2E_CA_BUNDLE") or None, config=Config(**settings), **kw)
