"""Sign requests with botocore's own SigV4 signer (the one boto3 and the AWS CLI use) and
send them to a lineup test server; print one JSON line per case: its name, the status and
the x-amzn-ErrorType answered. Usage: sigv4_botocore.py BASE_URL ACCESS_KEY SECRET REGION SERVICE
"""
import datetime
import json
import sys
import urllib.error
import urllib.request

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

base, key, secret, region, service = sys.argv[1:6]
real_now = botocore.auth.get_current_datetime


def send(name, method, path, body=b"", key=key, secret=secret, region=region,
         service=service, age=None, change_body=None, sign=True):
    url = base + path
    headers = {"Content-Type": "application/json"} if body else {}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    if sign:
        if age is not None:
            botocore.auth.get_current_datetime = lambda: real_now() - age
        try:
            SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
        finally:
            botocore.auth.get_current_datetime = real_now
    prepared = request.prepare()
    data = prepared.body if change_body is None else change_body
    if isinstance(data, str):
        data = data.encode()
    req = urllib.request.Request(prepared.url, data=data or None, method=method,
                                 headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, code, text = r.status, r.headers.get("x-amzn-ErrorType"), r.read().decode()
    except urllib.error.HTTPError as e:
        status, code, text = e.code, e.headers.get("x-amzn-ErrorType"), e.read().decode()
    print(json.dumps({"case": name, "status": status, "code": code, "body": text}), flush=True)


body = json.dumps({"id": "ch1", "tags": {"a": "b c"}}).encode()
arn_path = "/tags/arn%3Aaws%3Amediapackage%3Aus-east-1%3A000000000000%3Achannels%2Fch1"
send("get-query", "GET", "/things?maxResults=5&channelId=a%20b&tagKeys=x%3Ay")
send("post-json", "POST", "/things", body)
send("encoded-path", "POST", arn_path, body)
send("delete-query", "DELETE", arn_path + "?tagKeys=a&tagKeys=b")
send("four-minutes-old", "GET", "/things", age=datetime.timedelta(minutes=4))
send("wrong-secret", "GET", "/things", secret="not-the-secret")
send("unknown-key", "GET", "/things", key="AKIAUNKNOWN")
send("other-region", "GET", "/things", region="eu-west-1")
send("other-service", "GET", "/things", service="mediatailor" if service != "mediatailor" else "s3")
send("six-minutes-old", "GET", "/things", age=datetime.timedelta(minutes=6))
send("six-minutes-ahead", "GET", "/things", age=-datetime.timedelta(minutes=6))
send("body-changed", "POST", "/things", body, change_body=body.replace(b"ch1", b"ch2"))
send("unsigned", "GET", "/things", sign=False)
