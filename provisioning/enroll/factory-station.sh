#!/usr/bin/env bash
# factory-station.sh: the factory line's enrolment station, in two steps.
#
#   factory-station.sh batch GROUP ID TCTI [ID TCTI ...] > batch.csv
#       Reads each device's EK certificate from its TPM with tpm2_nvread,
#       the first of the NV indexes the agent tries too (ECC P-256
#       0x01c0000a, ECC P-384 0x01c00016, RSA 2048 0x01c00002), and writes
#       the CSV the operator imports with
#       `fleetgate device import batch.csv`. TCTI is how tpm2-tools reach
#       the TPM: device:/dev/tpmrm0 on the line, swtpm:host=H,port=P for
#       swtpm.
#
#   factory-station.sh enrol ID [device-agent flags]
#       Runs `device-agent enrol -device-id ID ...` once: it enrols the
#       device (TPM attestation or token), connects once to prove the broker
#       admits it, and prints one JSON line, which is also appended to
#       $STATION_LOG (default station.jsonl). The exit code is the agent's:
#       0 enrolled or already enrolled, 10 TPM missing, 11 EK not allowed,
#       12 EK untrusted, 13 server unreachable, 14 refused by the broker,
#       15 enrolment refused, 16 device ID not in the
#       registry (not in any imported batch), 2 usage, 1 anything else.
#
# DEVICE_AGENT names the agent binary (default: device-agent on PATH).
set -euo pipefail

die() { echo "factory-station: $*" >&2; exit 2; }

ek_pem() {
  local der
  der=$(mktemp)
  trap 'rm -f "$der"' RETURN
  local index
  for index in 0x01c0000a 0x01c00016 0x01c00002; do
    if TPM2TOOLS_TCTI="$1" tpm2_nvread "$index" -o "$der" 2>/dev/null; then
      openssl x509 -inform DER -in "$der"
      return
    fi
  done
  echo "factory-station: no EK certificate readable through $1" >&2
  return 1
}

cmd=${1:-}
shift || true
case "$cmd" in
batch)
  [ $# -ge 3 ] && [ $(( ($# - 1) % 2 )) -eq 0 ] || die "usage: batch GROUP ID TCTI [ID TCTI ...]"
  group=$1
  shift
  echo "id,group,ek_cert"
  while [ $# -gt 0 ]; do
    pem=$(ek_pem "$2")
    printf '%s,%s,"%s"\n' "$1" "$group" "$pem"
    shift 2
  done
  ;;
enrol)
  [ $# -ge 1 ] || die "usage: enrol ID [device-agent flags]"
  id=$1
  shift
  set +e
  line=$("${DEVICE_AGENT:-device-agent}" enrol -device-id "$id" "$@")
  code=$?
  set -e
  if [ $code -eq 0 ]; then
    echo "$line" | tee -a "${STATION_LOG:-station.jsonl}"
  fi
  exit $code
  ;;
*)
  die "usage: factory-station.sh batch GROUP ID TCTI... | enrol ID [device-agent flags]"
  ;;
esac
