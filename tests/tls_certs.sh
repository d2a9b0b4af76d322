#!/usr/bin/env bash
# tests/tls_certs.sh DIR - test certificates, made fresh with the openssl CLI:
#   ca.pem/ca.key        a test CA (ECDSA P-256)
#   ec.pem/ec.key        ECDSA P-256 leaf for localhost, 127.0.0.1 (key in SEC1)
#   ec8.key              the same key as PKCS#8
#   rsa.pem/rsa.key      RSA-2048 leaf for localhost, 127.0.0.1 (key in PKCS#8)
#   rsa1.key             the same key as PKCS#1
#   ec-chain.pem         leaf then CA (a chain file)
#   other.pem/other.key  ECDSA leaf for other.test, *.wild.test (SNI)
set -eu
d=$1
mkdir -p "$d"
cd "$d"
o() { openssl "$@" 2>/dev/null; }
o ecparam -name prime256v1 -genkey -noout -out ca.key
o req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=httpd.h test CA" -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() {  # name keyfile san
    cat > "$1.ext" <<X
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$3
X
    o req -new -key "$2" -subj "/CN=$1" -out "$1.csr"
    o x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
        -extfile "$1.ext" -out "$1.pem"
}
o ecparam -name prime256v1 -genkey -noout -out ec.key
o pkcs8 -topk8 -nocrypt -in ec.key -out ec8.key
leaf ec ec.key "DNS:localhost,IP:127.0.0.1"
o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
o rsa -in rsa.key -traditional -out rsa1.key
leaf rsa rsa.key "DNS:localhost,IP:127.0.0.1"
o ecparam -name prime256v1 -genkey -noout -out other.key
leaf other other.key "DNS:other.test,DNS:*.wild.test"
cat ec.pem ca.pem > ec-chain.pem
rm -f ./*.csr ./*.ext ca.srl
