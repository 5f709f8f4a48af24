#!/usr/bin/env python3
"""Writes the seed corpora of the KMS-client fuzz targets (fuzz_kms_answer,
fuzz_kms_error, fuzz_iam_answer) into tests/fuzz/corpus/<target>/.

Usage: tests/fuzz/make_client_seeds.py [CORPUS_DIR]   (default: next to this file)
The output is committed; rerun only when a target's input layout changes.
Seeds are answers as kmsd and the cloud KMS/IAM write them (well formed, with
correct digests), next to near-misses (one field off) that reach the checks.
"""
import hashlib
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
DEK = bytes(range(64))
DEK_HEX = DEK.hex().upper()
DGST = hashlib.sha256(DEK).hexdigest().upper()
CT = "020098009a2d" + "ab" * 180


def write(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def answer(selector, length, body):
    text = body if isinstance(body, str) else json.dumps(body)
    return bytes([selector, length]) + text.encode()


# --- fuzz_kms_answer: byte 0 = answer kind, byte 1 = key length asked for
create = {"key_id": KEY, "plain_text": DEK_HEX, "cipher_text": CT}
write("fuzz_kms_answer", "create_datakey_64", answer(0, 64, create))
write("fuzz_kms_answer", "create_datakey_lowercase", answer(0, 64, dict(create, plain_text=DEK.hex())))
write("fuzz_kms_answer", "create_datakey_spaced", answer(0, 64, '{ "plain_text" :\n "%s" , "cipher_text":"%s"}' % (DEK_HEX, CT)))
write("fuzz_kms_answer", "near_create_wrong_length", answer(0, 32, create))
write("fuzz_kms_answer", "near_create_no_cipher", answer(0, 64, {"plain_text": DEK_HEX}))
write("fuzz_kms_answer", "near_create_nested_plain", answer(0, 64, {"x": {"plain_text": DEK_HEX}, "cipher_text": CT}))
write("fuzz_kms_answer", "near_create_odd_hex", answer(0, 64, dict(create, plain_text=DEK_HEX[:-1])))
write("fuzz_kms_answer", "near_create_plain_as_key", answer(0, 64, '{"%s":"plain_text","plain_text":"%s","cipher_text":"c"}' % (DEK_HEX, DEK_HEX)))
decrypt = {"data_key": DEK_HEX, "datakey_length": "64", "datakey_dgst": DGST}
write("fuzz_kms_answer", "decrypt_datakey_64", answer(1, 64, decrypt))
write("fuzz_kms_answer", "near_decrypt_bad_digest", answer(1, 64, dict(decrypt, datakey_dgst="00" * 32)))
write("fuzz_kms_answer", "near_decrypt_short_digest", answer(1, 64, dict(decrypt, datakey_dgst=DGST[:62])))
write("fuzz_kms_answer", "near_decrypt_wrong_length", answer(1, 16, decrypt))
write("fuzz_kms_answer", "near_decrypt_number", answer(1, 64, '{"data_key":12,"datakey_dgst":"%s"}' % DGST))
write("fuzz_kms_answer", "near_decrypt_duplicate", answer(1, 64, '{"data_key":"%s","data_key":"00","datakey_dgst":"%s"}' % (DEK_HEX, DGST)))
write("fuzz_kms_answer", "near_decrypt_unterminated", answer(1, 64, '{"data_key":"%s' % DEK_HEX))
write("fuzz_kms_answer", "cipher_text", answer(2, 0, {"key_id": KEY, "cipher_text": CT, "datakey_length": "64"}))
write("fuzz_kms_answer", "near_cipher_empty", answer(2, 0, {"cipher_text": ""}))
write("fuzz_kms_answer", "near_cipher_array", answer(2, 0, "[1,2]"))
key_info = {"key_id": KEY, "domain_id": "b168fe00ff56492495a7d22974df2d0b", "key_alias": "kmsfs", "realm": "eu-de",
            "key_description": "", "creation_date": "1502799822000", "scheduled_deletion_date": "",
            "key_state": "2", "default_key_flag": "0", "key_type": "1", "expiration_time": "", "origin": "kms"}
write("fuzz_kms_answer", "describe_key", answer(3, 0, {"key_info": key_info}))
write("fuzz_kms_answer", "schedule_deletion_top_level", answer(3, 0, {"key_id": KEY, "key_state": "4"}))
write("fuzz_kms_answer", "near_describe_numbers", answer(3, 0, {"key_info": dict(key_info, key_state=2, creation_date=1.5e300)}))
write("fuzz_kms_answer", "list_keys", answer(4, 0, {"keys": [KEY], "key_details": [key_info], "next_marker": "",
                                                   "truncated": "false", "total": 1}))
write("fuzz_kms_answer", "near_list_keys_hostile", answer(4, 0, {"keys": [1, None, KEY], "key_details": [1, "x", {}],
                                                                 "truncated": True, "total": "-9223372036854775808"}))
grant = {"key_id": KEY, "grant_id": "7c9a3286af4fcca5f0a385ad13e1d21a50e27b6dbcab50f37f30f93b8939827d",
         "grantee_principal": "0d0466b0e727" * 2, "operations": ["decrypt-datakey", "describe-key"],
         "issuing_principal": "f" * 32, "creation_date": "1502799822000", "name": "g", "retiring_principal": ""}
write("fuzz_kms_answer", "list_grants", answer(5, 0, {"grants": [grant], "next_marker": "", "truncated": "false",
                                                     "total": 1}))
write("fuzz_kms_answer", "near_list_grants_nested", answer(5, 0, {"grants": [dict(grant, operations=[["x"], 1])],
                                                                  "total": 99999999999999999999}))

# --- fuzz_kms_error: the whole input is the body
write("fuzz_kms_error", "kms_error", json.dumps({"error": {"error_code": "KMS.0207", "error_msg": "Key not found."}}))
write("fuzz_kms_error", "keystone_error", json.dumps({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}))
write("fuzz_kms_error", "flat_error", json.dumps({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information"}))
write("fuzz_kms_error", "near_error_numbers", json.dumps({"error": {"error_code": 207, "error_msg": ["x"]}}))
write("fuzz_kms_error", "near_error_not_object", "[\"error\"]")
write("fuzz_kms_error", "html_gateway", "<html><body>502 Bad Gateway</body></html>")
write("fuzz_kms_error", "empty", "")

# --- fuzz_iam_answer: byte 0 bit 0 = answer (0) or time (1); bits 1-7 shift "now"
catalog = [{"type": "kms", "id": "c1", "name": "kms", "endpoints": [
    {"region_id": "eu-de", "url": "https://kms.eu-de.otc.t-systems.com/v1.0/$(tenant_id)s", "region": "eu-de",
     "interface": "public", "id": "e1"}]}]
token = {"methods": ["password"], "expires_at": "2024-01-02T00:00:00.000000Z",
         "issued_at": "2024-01-01T00:00:00.000000Z",
         "user": {"domain": {"name": "dom", "id": "d1"}, "name": "alice", "id": "u-alice",
                  "password_expires_at": ""},
         "project": {"domain": {"name": "dom", "id": "d1"}, "name": "eu-de", "id": "p1"},
         "catalog": catalog, "roles": [{"name": "te_admin", "id": "r1"}]}
def iam(shift, body):
    return bytes([(shift << 1) & 0xfe]) + (body if isinstance(body, str) else json.dumps(body)).encode()
write("fuzz_iam_answer", "login_answer", iam(64, {"token": token}))
write("fuzz_iam_answer", "login_no_issued", iam(64, {"token": dict(token, issued_at=None)}))
write("fuzz_iam_answer", "login_offset_times", iam(64, {"token": dict(token, issued_at="2024-01-01T01:00:00+01:00", expires_at="2024-01-01T23:00:00-01:00")}))
write("fuzz_iam_answer", "near_login_far_future", iam(64, {"token": dict(token, expires_at="9999-12-31T23:59:60.999999999Z", issued_at="1970-01-01T00:00:00Z")}))
write("fuzz_iam_answer", "near_login_backwards", iam(64, {"token": dict(token, expires_at="2023-12-31T00:00:00Z")}))
write("fuzz_iam_answer", "near_login_expired_now", iam(127, {"token": dict(token, issued_at=None)}))
write("fuzz_iam_answer", "near_login_number_times", iam(64, {"token": dict(token, expires_at=1e308, issued_at=-1)}))
write("fuzz_iam_answer", "near_login_catalog_hostile", iam(64, {"token": dict(token, catalog=[{"endpoints": [None, 1, {"url": 5}]}], user=[])}))
for name, text in [("time_kms", "2024-01-01T00:00:00.000000Z"), ("time_offset", "2024-02-29T23:59:60-23:59"),
                   ("near_time_year_0", "0000-01-01T00:00:00Z"), ("near_time_feb_30", "2023-02-30T00:00:00Z"),
                   ("near_time_long_fraction", "2024-01-01T00:00:00.1234567890Z"),
                   ("near_time_signs", "+024-01-01T00:00:00Z")]:
    write("fuzz_iam_answer", name, bytes([1]) + text.encode())
print("wrote client seeds under", root)
