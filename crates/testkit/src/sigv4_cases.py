"""SigV4 cases against a lineup AWS-shaped API: requests signed by botocore's signer (the
one boto3 and the AWS CLI use) and by a hand-written signer (Python's hashlib and hmac,
following AWS's published steps), good and bad. Prints one JSON line per case: its name,
status and x-amzn-ErrorType. Usage:
sigv4_cases.py BASE GET_PATH POST_PATH POST_BODY KEY SECRET REGION SERVICE
"""
import datetime
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

base, get_path, post_path, post_body, key, secret, region, service = sys.argv[1:9]
post_body = post_body.encode()
real_now = botocore.auth.get_current_datetime


def send_raw(name, method, url, headers, data):
    req = urllib.request.Request(url, data=data or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, code, text = r.status, r.headers.get("x-amzn-ErrorType"), r.read().decode()
    except urllib.error.HTTPError as e:
        status, code, text = e.code, e.headers.get("x-amzn-ErrorType"), e.read().decode()
    print(json.dumps({"case": name, "status": status, "code": code, "body": text}), flush=True)


def botocore_case(name, method, path, body=b"", key=key, secret=secret, region=region,
                  service=service, age=None, change_body=None, sign=True):
    headers = {"Content-Type": "application/json"} if body else {}
    request = AWSRequest(method=method, url=base + path, data=body, headers=headers)
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
    send_raw(name, method, prepared.url, dict(prepared.headers.items()), data)


def handmade_case(name, method, path, body=b"", secret=secret, region=region, service=service):
    """The algorithm as AWS documents it, step by step, without botocore."""
    url = urllib.parse.urlsplit(base + path)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    # Non-S3 services: each path segment URI-encoded twice (once to send, once to sign).
    canonical_uri = "/".join(urllib.parse.quote(s, safe="-_.~") for s in url.path.split("/"))
    pairs = sorted(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in pairs)
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": url.netloc, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers))
    canonical = "\n".join([method, canonical_uri, canonical_query, canonical_headers, signed,
                           payload])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + secret).encode(), day), region), service), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
                         f"SignedHeaders={signed}, Signature={signature}",
    }
    if body:
        out["Content-Type"] = "application/json"
    send_raw(name, method, base + path, out, body)


botocore_case("botocore-ok", "GET", get_path)
handmade_case("handmade-ok", "GET", get_path)
botocore_case("wrong-secret", "GET", get_path, secret="not-the-secret")
handmade_case("handmade-wrong-secret", "GET", get_path, secret="not-the-secret")
botocore_case("unknown-key", "GET", get_path, key="AKIAUNKNOWN")
botocore_case("other-region", "GET", get_path, region="eu-west-1")
handmade_case("handmade-other-region", "GET", get_path, region="eu-west-1")
botocore_case("other-service", "GET", get_path, service="s3")
handmade_case("handmade-other-service", "GET", get_path, service="s3")
botocore_case("six-minutes-old", "GET", get_path, age=datetime.timedelta(minutes=6))
botocore_case("body-changed", "POST", post_path, post_body,
              change_body=post_body.replace(b"sigv4", b"sigv5"))
botocore_case("unsigned", "GET", get_path, sign=False)
