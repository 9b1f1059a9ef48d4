#!/usr/bin/env bash
# tpm2-walkthrough.sh: TPM-attested enrolment with tpm2-tools, curl and
# OpenSSL's tpm2 provider alone, step by step as provisioning/enroll/README.md
# describes it (test/tpm2_walkthrough_test.go runs it against swtpm).
#
#   TPM2TOOLS_TCTI=device:/dev/tpmrm0 API=https://pki.example:8443 ROOT=root.crt \
#     tpm2-walkthrough.sh DEVICE_ID
#
# It works in the current directory and leaves the device's certificate in
# device.crt (leaf and chain) with its key in the TPM (key.pub, key.priv
# under the SRK). The EK is the RSA 2048 one (certificate at NV index
# 0x01c00002), which almost every TPM ships.
set -euo pipefail
id=${1:?usage: tpm2-walkthrough.sh DEVICE_ID}
: "${API:?API=https://host:port}" "${ROOT:?ROOT=the fleet root certificate}"
export TPM2OPENSSL_TCTI=${TPM2OPENSSL_TCTI:-$TPM2TOOLS_TCTI}
b64() { base64 -w0 "$1"; }
post() { curl -sS --fail-with-body --cacert "$ROOT" -H 'Content-Type: application/json' --data-binary @- "$API$1"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# 1. EK: its certificate from NV, the key itself from the standard template.
tpm2_nvread 0x01c00002 -o ek.der
tpm2_createek -G rsa -c ek.ctx -u ek.pub
tpm2_flushcontext -t

# 2. AK: a restricted ECC P-256 signing key under the SRK.
tpm2_createprimary -C o -g sha256 -G ecc256 -c srk.ctx
tpm2_create -C srk.ctx -G ecc256:ecdsa-sha256:null -u ak.pub -r ak.priv \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign'
tpm2_flushcontext -t

# 3. Start.
printf '{"device_id":"%s","ek_cert":"%s","ak_public":"%s"}' "$id" "$(b64 ek.der)" "$(b64 ak.pub)" |
  post /v1/enroll/tpm/start > start.json
challenge=$(field challenge_id < start.json)

# 4. Activate: tpm2-tools' credential file is BADCC0DE 00000001, then the
#    blob and the encrypted secret, each after its 2-byte big-endian length.
python3 - <<'PY'
import base64, json, struct
s = json.load(open("start.json"))
blob, secret = base64.b64decode(s["credential_blob"]), base64.b64decode(s["encrypted_secret"])
open("cred.bin", "wb").write(bytes.fromhex("badcc0de00000001") + struct.pack(">H", len(blob)) + blob + struct.pack(">H", len(secret)) + secret)
open("nonce.hex", "w").write(base64.b64decode(s["nonce"]).hex())
PY
tpm2_createek -G rsa -c ek.ctx
tpm2_load -C srk.ctx -u ak.pub -r ak.priv -c ak.ctx
tpm2_flushcontext -t
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policysecret -S s.ctx -c e
tpm2_activatecredential -c ak.ctx -C ek.ctx -i cred.bin -o secret.bin -P session:s.ctx
tpm2_flushcontext s.ctx
tpm2_flushcontext -t

# 5. Key and Certify: a new key that cannot leave the TPM, made
#    persistent so OpenSSL's tpm2 provider can name it, certified by the AK
#    with the nonce as qualifying data. tpm2_certify has no option for
#    qualifying data before tpm2-tools 5.5 (Debian 12 ships 5.4), so the
#    TPM2_Certify command is sent with tpm2_send: both keys persistent,
#    empty password authorisations, the key's own signing scheme.
tpm2_evictcontrol -C o -c 0x81010002 2>/dev/null || true
tpm2_evictcontrol -C o -c 0x81010003 2>/dev/null || true
tpm2_create -C srk.ctx -G ecc256:ecdsa-sha256 -u key.pub -r key.priv \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
tpm2_flushcontext -t
tpm2_load -C srk.ctx -u key.pub -r key.priv -c key.ctx
tpm2_evictcontrol -C o -c key.ctx 0x81010002
tpm2_flushcontext -t
tpm2_load -C srk.ctx -u ak.pub -r ak.priv -c ak.ctx
tpm2_evictcontrol -C o -c ak.ctx 0x81010003
tpm2_flushcontext -t
python3 - <<'PY' | tpm2_send > certify.rsp
import struct, sys
nonce = bytes.fromhex(open("nonce.hex").read())
pw = struct.pack(">IHBH", 0x40000009, 0, 0, 0)                  # TPM_RS_PW, no nonce, no attributes, empty auth
body = struct.pack(">II", 0x81010002, 0x81010003)               # objectHandle, signHandle
body += struct.pack(">I", 2 * len(pw)) + pw + pw
body += struct.pack(">H", len(nonce)) + nonce + struct.pack(">H", 0x0010)  # qualifyingData; inScheme TPM_ALG_NULL
cmd = struct.pack(">HII", 0x8002, 10 + len(body), 0x00000148) + body   # TPM_ST_SESSIONS, TPM_CC_Certify
sys.stdout.buffer.write(cmd)
PY
python3 - <<'PY'
import struct
r = open("certify.rsp", "rb").read()
tag, size, rc = struct.unpack(">HII", r[:10])
if rc != 0:
    raise SystemExit("TPM2_Certify failed: response code 0x%x" % rc)
params = struct.unpack(">I", r[10:14])[0]
p = r[14:14 + params]
n = struct.unpack(">H", p[:2])[0]
open("attest.bin", "wb").write(p[2:2 + n])  # TPMS_ATTEST
open("sig.bin", "wb").write(p[2 + n:])      # TPMT_SIGNATURE
PY
openssl req -new -provider tpm2 -provider default -key handle:0x81010002 -subj "/CN=$id" -out key.csr

# 6. Finish.
python3 - "$challenge" > finish.json <<'PY'
import base64, json, sys
b = lambda f: base64.b64encode(open(f, "rb").read()).decode()
print(json.dumps({"challenge_id": sys.argv[1], "secret": b("secret.bin"), "key_public": b("key.pub"),
                  "attestation": b("attest.bin"), "signature": b("sig.bin"), "csr": open("key.csr").read()}))
PY
post /v1/enroll/tpm/finish < finish.json > issued.json
field chain < issued.json > device.crt
tpm2_evictcontrol -C o -c 0x81010003
echo "enrolled $id: serial $(field serial < issued.json); key at persistent handle 0x81010002"
