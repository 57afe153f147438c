#!/usr/bin/env bash
# Makes a CA and a serving certificate for the injector's Service with
# openssl (see README.md). Usage:
#   deploy/k8s/injector/make-cert.sh [OUT_DIR [SERVICE [NAMESPACE [DAYS]]]]
# Writes OUT_DIR/{ca.crt,ca.key,tls.crt,tls.key}; prints nothing else.
# Keep ca.key out of the cluster and out of git.
set -euo pipefail
out=${1:-.}
service=${2:-nearcache-injector}
namespace=${3:-nearcache-system}
days=${4:-365}
host="$service.$namespace.svc"

mkdir -p "$out"
umask 077
ext=$(mktemp)
trap 'rm -f "$ext" "$out/tls.csr" "$out/ca.srl"' EXIT
printf '%s\n' \
  "subjectAltName=DNS:$host,DNS:$host.cluster.local" \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" >"$ext"

# The CA that the API server trusts for this webhook only (caBundle).
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=nearcache-injector-ca" \
  -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
# The webhook's key and certificate, for the Service's DNS name.
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$host" \
  -keyout "$out/tls.key" -out "$out/tls.csr" 2>/dev/null
openssl x509 -req -sha256 -days "$days" -in "$out/tls.csr" \
  -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -extfile "$ext" -out "$out/tls.crt" 2>/dev/null
chmod 644 "$out/ca.crt" "$out/tls.crt"
