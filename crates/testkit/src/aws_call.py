"""One AWS SDK call through boto3, for lineup's tests: the real client, signing with
SigV4, against an --endpoint-url. Usage: aws_call.py SERVICE ENDPOINT REGION OPERATION
with the parameters as JSON on stdin; credentials from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. Prints {"ok": answer} or {"error": {code, message, status, class}}.
"""
import json
import sys

import boto3
import botocore.exceptions
from botocore.config import Config

service, endpoint, region, operation = sys.argv[1:5]
params = json.loads(sys.stdin.read() or "{}")
client = boto3.client(service, endpoint_url=endpoint, region_name=region,
                      config=Config(retries={"max_attempts": 1}))
try:
    answer = getattr(client, operation)(**params)
    answer.pop("ResponseMetadata", None)
    print(json.dumps({"ok": answer}, default=str))
except botocore.exceptions.ClientError as e:
    print(json.dumps({"error": {
        "code": e.response["Error"]["Code"],
        "message": e.response["Error"].get("Message", ""),
        "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        "class": type(e).__name__,
    }}))
