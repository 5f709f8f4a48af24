"""Drives a real kmsd with the two official client libraries.

huaweicloudsdkkms signs every call with AK/SK (a permanent key made with the
IAM credentials API, and a temporary one with a security token);
otcextensions logs in with a password and finds kmsd in the token's service
catalog (no endpoint override). Every action each library offers that kmsd
implements is called and its parsed result checked. Exit 0 when all pass,
1 with the first failure otherwise.

    compat_driver.py --kmsd PATH --work DIR
"""
import argparse
import base64
import hashlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request

REGION = "eu-de"
USER = {"name": "alice", "password": "alice-compat-pw", "id": "0a11ce00000000000000000000000001",
        "project_id": "0a11ce000000000000000000000000f1", "project_name": REGION, "domain": "alice-domain"}
STARTUP_DEADLINE_SEC = 30

exercised = {"huaweicloudsdkkms": [], "otcextensions": []}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def field(obj, name):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def start_kmsd(kmsd, work):
    users = os.path.join(work, "users.json")
    fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump([USER], f)
    proc = subprocess.Popen([kmsd, "--listen", "127.0.0.1:0", "--data", os.path.join(work, "data"),
                             "--users", users, "--region", REGION],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_DEADLINE_SEC
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        for line in seen.decode(errors="replace").splitlines():
            if line.startswith("listening on ") and seen.endswith(b"\n"):
                return proc, "http://127.0.0.1:" + line.rsplit(":", 1)[1].strip()
    proc.kill()
    raise RuntimeError("kmsd did not start; it printed:\n" + seen.decode(errors="replace"))


def http_json(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as res:
        return res.status, dict(res.headers), json.loads(res.read() or b"{}")


def password_token(base):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": USER["name"], "password": USER["password"], "domain": {"name": USER["domain"]}}}},
        "scope": {"project": {"name": REGION}}}}
    status, headers, _ = http_json("POST", base + "/v3/auth/tokens", body)
    check(status == 201, "password login")
    return headers["X-Subject-Token"]


def sdk_client(base, ak, sk, security_token=None):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkkms.v2 import KmsClient
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    credentials = BasicCredentials(ak, sk, USER["project_id"])
    if security_token:
        credentials = credentials.with_security_token(security_token)
    return KmsClient.new_builder().with_http_config(config).with_credentials(credentials) \
        .with_endpoints([base]).build()


def run_sdk(base):
    from huaweicloudsdkcore.exceptions import exceptions
    from huaweicloudsdkkms.v2 import model as m

    token = password_token(base)
    status, _, made = http_json("POST", base + "/v3.0/OS-CREDENTIAL/credentials",
                                {"credential": {"user_id": USER["id"], "description": "compat"}},
                                {"X-Auth-Token": token})
    check(status == 201 and len(made["credential"]["secret"]) == 40, "credentials API")
    client = sdk_client(base, made["credential"]["access"], made["credential"]["secret"])
    done = exercised["huaweicloudsdkkms"]

    def call(name, fn):
        result = fn()
        done.append(name)
        return result

    versions = call("show_versions", lambda: client.show_versions(m.ShowVersionsRequest()))
    check(versions.versions[0].id == "v1.0", "show_versions")
    version = call("show_version", lambda: client.show_version(m.ShowVersionRequest(version_id="v1.0")))
    # The SDK's model leaves this one as a dict.
    check(field(version.version, "id") == "v1.0", "show_version")

    key = call("create_key", lambda: client.create_key(m.CreateKeyRequest(
        body=m.CreateKeyRequestBody(key_alias="compat-sdk", key_description="made by the SDK"))))
    key_id = key.key_info.key_id
    check(len(key_id) == 36 and key.key_info.domain_id, "create_key answer")
    detail = call("list_key_detail", lambda: client.list_key_detail(
        m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id))))
    check(detail.key_info.key_alias == "compat-sdk" and detail.key_info.key_state == "2", "list_key_detail")
    keys = call("list_keys", lambda: client.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody(limit="10"))))
    check(key_id in keys.keys, "list_keys")

    dk = call("create_datakey", lambda: client.create_datakey(m.CreateDatakeyRequest(
        body=m.CreateDatakeyRequestBody(key_id=key_id, datakey_length="512",
                                        additional_authenticated_data="file-7"))))
    check(len(dk.plain_text) == 128, "create_datakey plain_text")
    opened = call("decrypt_datakey", lambda: client.decrypt_datakey(m.DecryptDatakeyRequest(
        body=m.DecryptDatakeyRequestBody(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length="64",
                                         additional_authenticated_data="file-7"))))
    check(opened.data_key == dk.plain_text, "decrypt_datakey returns the data key")
    try:
        client.decrypt_datakey(m.DecryptDatakeyRequest(body=m.DecryptDatakeyRequestBody(
            key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length="64",
            additional_authenticated_data="file-8")))
        raise AssertionError("decrypt_datakey with another AAD succeeded")
    except exceptions.ClientRequestException as e:
        check(e.error_code == "KMS.2201", "another AAD: " + str(e.error_code))
    wo = call("create_datakey_without_plaintext", lambda: client.create_datakey_without_plaintext(
        m.CreateDatakeyWithoutPlaintextRequest(body=m.CreateDatakeyRequestBody(key_id=key_id,
                                                                               datakey_length="256"))))
    check(wo.cipher_text and wo.key_id == key_id, "create_datakey_without_plaintext")
    plain = hashlib.sha256(b"compat").hexdigest().upper() * 2
    digest = hashlib.sha256(bytes.fromhex(plain)).hexdigest().upper()
    wrapped = call("encrypt_datakey", lambda: client.encrypt_datakey(m.EncryptDatakeyRequest(
        body=m.EncryptDatakeyRequestBody(key_id=key_id, plain_text=plain + digest, datakey_plain_length="64"))))
    again = client.decrypt_datakey(m.DecryptDatakeyRequest(body=m.DecryptDatakeyRequestBody(
        key_id=key_id, cipher_text=wrapped.cipher_text, datakey_cipher_length="64")))
    check(again.data_key == plain, "encrypt_datakey then decrypt_datakey")

    sealed = call("encrypt_data", lambda: client.encrypt_data(m.EncryptDataRequest(
        body=m.EncryptDataRequestBody(key_id=key_id, plain_text="hello kmsd"))))
    unsealed = call("decrypt_data", lambda: client.decrypt_data(m.DecryptDataRequest(
        body=m.DecryptDataRequestBody(cipher_text=sealed.cipher_text))))
    check(unsealed.plain_text == "hello kmsd", "decrypt_data")
    rnd = call("create_random", lambda: client.create_random(m.CreateRandomRequest(
        body=m.GenRandomRequestBody(random_data_length="512"))))
    check(len(rnd.random_data) == 128, "create_random")

    grant = call("create_grant", lambda: client.create_grant(m.CreateGrantRequest(body=m.CreateGrantRequestBody(
        key_id=key_id, grantee_principal="00b0b000000000000000000000000002",
        operations=["describe-key", "encrypt-datakey"], retiring_principal=USER["id"]))))
    check(len(grant.grant_id) == 64, "create_grant")
    grants = call("list_grants", lambda: client.list_grants(m.ListGrantsRequest(
        body=m.ListGrantsRequestBody(key_id=key_id))))
    check([g.grant_id for g in grants.grants] == [grant.grant_id], "list_grants")
    retirable = call("list_retirable_grants", lambda: client.list_retirable_grants(m.ListRetirableGrantsRequest(
        body=m.ListRetirableGrantsRequestBody(limit="10"))))
    check(any(g.grant_id == grant.grant_id for g in retirable.grants), "list_retirable_grants")
    call("cancel_self_grant", lambda: client.cancel_self_grant(m.CancelSelfGrantRequest(
        body=m.RevokeGrantRequestBody(key_id=key_id, grant_id=grant.grant_id))))
    second = client.create_grant(m.CreateGrantRequest(body=m.CreateGrantRequestBody(
        key_id=key_id, grantee_principal="00b0b000000000000000000000000002", operations=["describe-key"])))
    call("cancel_grant", lambda: client.cancel_grant(m.CancelGrantRequest(
        body=m.RevokeGrantRequestBody(key_id=key_id, grant_id=second.grant_id))))
    check(client.list_grants(m.ListGrantsRequest(body=m.ListGrantsRequestBody(key_id=key_id))).total == 0,
          "grants gone")

    call("enable_key_rotation", lambda: client.enable_key_rotation(
        m.EnableKeyRotationRequest(body=m.OperateKeyRequestBody(key_id=key_id))))
    rot = call("show_key_rotation_status", lambda: client.show_key_rotation_status(
        m.ShowKeyRotationStatusRequest(body=m.OperateKeyRequestBody(key_id=key_id))))
    check(rot.key_rotation_enabled is True, "show_key_rotation_status")
    call("disable_key_rotation", lambda: client.disable_key_rotation(
        m.DisableKeyRotationRequest(body=m.OperateKeyRequestBody(key_id=key_id))))
    disabled = call("disable_key", lambda: client.disable_key(
        m.DisableKeyRequest(body=m.OperateKeyRequestBody(key_id=key_id))))
    check(disabled.key_info.key_state == "3", "disable_key")
    enabled = call("enable_key", lambda: client.enable_key(
        m.EnableKeyRequest(body=m.OperateKeyRequestBody(key_id=key_id))))
    check(enabled.key_info.key_state == "2", "enable_key")

    renamed = call("update_key_alias", lambda: client.update_key_alias(m.UpdateKeyAliasRequest(
        body=m.UpdateKeyAliasRequestBody(key_id=key_id, key_alias="compat-sdk-renamed"))))
    check(renamed.key_info.key_id == key_id and renamed.key_info.key_alias == "compat-sdk-renamed",
          "update_key_alias")
    described = call("update_key_description", lambda: client.update_key_description(
        m.UpdateKeyDescriptionRequest(body=m.UpdateKeyDescriptionRequestBody(key_id=key_id,
                                                                             key_description="changed"))))
    check(described.key_info.key_description == "changed", "update_key_description")
    detail = client.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id)))
    check(detail.key_info.key_alias == "compat-sdk-renamed" and detail.key_info.key_description == "changed",
          "alias and description stored")
    call("update_key_rotation_interval", lambda: client.update_key_rotation_interval(
        m.UpdateKeyRotationIntervalRequest(body=m.UpdateKeyRotationIntervalRequestBody(key_id=key_id,
                                                                                       rotation_interval=90))))
    try:
        client.update_key_rotation_interval(m.UpdateKeyRotationIntervalRequest(
            body=m.UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=29)))
        raise AssertionError("a 29-day rotation interval was accepted")
    except exceptions.ClientRequestException as e:
        check(e.error_code == "KMS.3001", "rotation_interval 29: " + str(e.error_code))
    rotated = call("rotate_on_demand", lambda: client.rotate_on_demand(m.RotateOnDemandRequest(
        body=m.RotateOnDemandRequestBody(key_id=key_id))))
    check(rotated.key_id == key_id, "rotate_on_demand")
    rot = client.show_key_rotation_status(m.ShowKeyRotationStatusRequest(body=m.OperateKeyRequestBody(key_id=key_id)))
    check(rot.rotation_interval == 90 and rot.number_of_rotations == 2, "rotation status after rotate_on_demand")
    again = client.decrypt_datakey(m.DecryptDatakeyRequest(body=m.DecryptDatakeyRequestBody(
        key_id=key_id, cipher_text=wrapped.cipher_text, datakey_cipher_length="64")))
    check(again.data_key == plain, "a ciphertext of before the rotation still decrypts")
    quotas = call("show_user_quotas", lambda: client.show_user_quotas(m.ShowUserQuotasRequest()))
    by_type = {r.type: r for r in quotas.quotas.resources}
    check(by_type["CMK"].used >= 1 and by_type["CMK"].quota == 100 and by_type["grant_per_CMK"].quota == 100,
          "show_user_quotas")
    instances = call("show_user_instances", lambda: client.show_user_instances(m.ShowUserInstancesRequest()))
    check(instances.instance_num == by_type["CMK"].used, "show_user_instances")

    ext = client.create_key(m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias="compat-byok",
                                                                           origin="external")))
    params = call("create_parameters_for_import", lambda: client.create_parameters_for_import(
        m.CreateParametersForImportRequest(body=m.GetParametersForImportRequestBody(
            key_id=ext.key_info.key_id, wrapping_algorithm="RSAES_OAEP_SHA_256"))))
    check(params.import_token and params.public_key, "create_parameters_for_import")
    wrapped_material = wrap_for_import(params.public_key, os.urandom(32))
    call("import_key_material", lambda: client.import_key_material(m.ImportKeyMaterialRequest(
        body=m.ImportKeyMaterialRequestBody(key_id=ext.key_info.key_id, import_token=params.import_token,
                                            encrypted_key_material=wrapped_material))))
    call("delete_imported_key_material", lambda: client.delete_imported_key_material(
        m.DeleteImportedKeyMaterialRequest(body=m.OperateKeyRequestBody(key_id=ext.key_info.key_id))))

    pending = call("delete_key", lambda: client.delete_key(m.DeleteKeyRequest(
        body=m.ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="7"))))
    check(pending.key_state == "4", "delete_key schedules deletion")
    call("cancel_key_deletion", lambda: client.cancel_key_deletion(
        m.CancelKeyDeletionRequest(body=m.OperateKeyRequestBody(key_id=key_id))))

    # Unsupported APIs answer as the gateway does.
    try:
        client.sign(m.SignRequest(body=m.SignRequestBody(key_id=key_id, message="x",
                                                         signing_algorithm="RSASSA_PSS_SHA_256")))
        raise AssertionError("sign succeeded")
    except exceptions.ClientRequestException as e:
        check(e.status_code == 404 and e.error_code == "APIGW.0101", "sign: " + str(e.error_code))

    # A temporary key with its security token.
    status, _, temp = http_json("POST", base + "/v3.0/OS-CREDENTIAL/securitytokens",
                                {"auth": {"identity": {"methods": ["token"], "token": {"duration_seconds": 900}}}},
                                {"X-Auth-Token": token})
    check(status == 201, "securitytokens API")
    c = temp["credential"]
    temp_client = sdk_client(base, c["access"], c["secret"], c["securitytoken"])
    listed = temp_client.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody()))
    check(key_id in listed.keys, "list_keys with a temporary key")
    bad_client = sdk_client(base, made["credential"]["access"], made["credential"]["secret"][:-1] + "x")
    try:
        bad_client.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody()))
        raise AssertionError("a wrong secret key was accepted")
    except exceptions.ClientRequestException as e:
        check(e.status_code == 401 and e.error_code == "APIGW.0301", "wrong SK: " + str(e.error_code))


def wrap_for_import(public_key_b64, material):
    der = base64.b64decode(public_key_b64)
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der).decode() + "-----END PUBLIC KEY-----\n"
    with tempfile.TemporaryDirectory() as d:
        key_path, in_path = os.path.join(d, "k.pem"), os.path.join(d, "m.bin")
        with open(key_path, "w") as f:
            f.write(pem)
        with open(in_path, "wb") as f:
            f.write(material)
        out = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", key_path, "-in", in_path,
                              "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                              "-pkeyopt", "rsa_mgf1_md:sha256"], capture_output=True, check=True, timeout=30)
    return base64.b64encode(out.stdout).decode()


def run_otcextensions(base):
    import openstack
    from otcextensions import sdk
    openstack.enable_logging(debug=False)
    conn = openstack.connect(auth_type="password", auth_url=base + "/v3", username=USER["name"],
                             password=USER["password"], user_domain_name=USER["domain"],
                             project_name=REGION, project_domain_name=USER["domain"], region_name=REGION,
                             identity_api_version="3", load_yaml_config=False, load_envvars=False)
    sdk.register_otc_extensions(conn)
    done = exercised["otcextensions"]

    def call(name, fn):
        result = fn()
        done.append(name)
        return result

    key = call("create_key", lambda: conn.kms.create_key(key_alias="compat-otc", key_description="otc"))
    check(key.id and len(key.id) == 36, "create_key")
    got = call("get_key", lambda: conn.kms.get_key(key.id))
    check(got.key_alias == "compat-otc", "get_key")
    found = call("find_key", lambda: conn.kms.find_key("compat-otc"))
    check(found.id == key.id, "find_key")
    listed = call("keys", lambda: list(conn.kms.keys()))
    check(any(k.id == key.id for k in listed), "keys")
    disabled = call("disable_key", lambda: conn.kms.disable_key(key))
    check(str(disabled.key_state) == "3", "disable_key")
    enabled = call("enable_key", lambda: conn.kms.enable_key(key))
    check(str(enabled.key_state) == "2", "enable_key")

    dk = call("create_datakey", lambda: conn.kms.create_datakey(key, datakey_length=512))
    check(len(dk.plain_text) == 128 and dk.cipher_text, "create_datakey")
    wo = call("create_datakey_wo_plain", lambda: conn.kms.create_datakey_wo_plain(key, datakey_length=512))
    check(wo.cipher_text, "create_datakey_wo_plain")
    from otcextensions.sdk.kms.v1 import data_key as _data_key
    plain = dk.plain_text
    to_wrap = _data_key.DataKey(key_id=key.id, plain_text=plain, datakey_plain_length=64)
    wrapped = call("encrypt_datakey", lambda: conn.kms.encrypt_datakey(to_wrap))
    check(wrapped.cipher_text, "encrypt_datakey")
    opened = call("decrypt_datakey", lambda: conn.kms.decrypt_datakey(key, wrapped.cipher_text, 64))
    check(opened.plain_text.upper().startswith(plain.upper()), "decrypt_datakey returns the data key")
    rnd = call("generate_random", lambda: conn.kms.generate_random(random_data_length=512))
    check(len(rnd.random_data) == 128, "generate_random")
    pending = call("schedule_key_deletion", lambda: conn.kms.schedule_key_deletion(key, 7))
    check(str(pending.key_state) == "4", "schedule_key_deletion")
    cancelled = call("cancel_key_deletion", lambda: conn.kms.cancel_key_deletion(key))
    check(str(cancelled.key_state) == "3", "cancel_key_deletion")
    number = call("get_instance_number", lambda: conn.kms.get_instance_number())
    check(number.instance_num >= 1, "get_instance_number")
    quotas = call("quotas", lambda: list(conn.kms.quotas()))
    check({q.type for q in quotas} == {"CMK", "grant_per_CMK"} and
          all(q.quota == 100 for q in quotas), "quotas")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kmsd", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.makedirs(args.work, mode=0o700, exist_ok=True)
    proc, base = start_kmsd(args.kmsd, args.work)
    failed = None
    try:
        for name, run in (("huaweicloudsdkkms", run_sdk), ("otcextensions", run_otcextensions)):
            try:
                run(base)
            except Exception as e:  # report which library and call failed
                failed = "%s failed after %s: %s: %s" % (name, exercised[name][-1:] or "no call",
                                                        type(e).__name__, e)
                break
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    for name, calls in exercised.items():
        print("compat: %s: %d calls passed: %s" % (name, len(calls), ", ".join(calls)))
    if failed:
        print("compat: FAILED: " + failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
