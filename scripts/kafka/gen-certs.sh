#!/usr/bin/env bash
# scripts/kafka/gen-certs.sh DIR — throwaway PEM certificates for a secure test
# broker (scripts/kafka.sh start --secure). Needs openssl. EC P-256 keys, PKCS#8,
# unencrypted (what Kafka's PEM keystores and rustls both read).
#
#   ca.pem, ca.key              the test CA (trusted by clients and, for mTLS, the broker)
#   server.pem (+ .crt/.key)    broker key + certificate, SANs IP:127.0.0.1 and DNS:localhost
#   badname.pem (+ .crt/.key)   broker certificate from the same CA naming only wrong.invalid
#   client.crt, client.key      client certificate (CN=kwire-client) for mutual TLS
#   client.pem                  client key + certificate in one file (Java-style PEM keystore)
#   wrong-ca.pem                a second CA that signed none of the above (negative tests)
set -euo pipefail

dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
days=${KWIRE_CERT_DAYS:-3650}

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {                                    # ca NAME CN
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days "$days" -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() {                                  # leaf NAME CN EKU SAN|-
  local ext
  newkey "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$3"
  [[ $4 != - ]] && ext+="
subjectAltName=$4"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.crt" \
    -days "$days" -extfile <(echo "$ext") 2>/dev/null
  rm -f "$1.csr"
  cat "$1.key" "$1.crt" >"$1.pem"
}

ca ca "kwire test CA"
ca wrong-ca "kwire wrong CA"
leaf server localhost serverAuth "IP:127.0.0.1,DNS:localhost"
leaf badname wrong.invalid serverAuth "DNS:wrong.invalid"
leaf client kwire-client clientAuth -
rm -f ca.srl wrong-ca.key
chmod 644 ./*.pem ./*.crt
chmod 600 ./*.key server.pem badname.pem client.pem
openssl verify -CAfile ca.pem server.crt badname.crt client.crt >/dev/null
