#!/bin/sh
# tls-certs.sh DIR: make the test PKI used by tests/unit_conn.
#
# Creates in DIR (PEM files, EC P-256 keys, no passphrases):
#   ca.pem ca.key               test CA (trusted by the tests)
#   good.pem good.key           signed by the CA, SAN localhost + 127.0.0.1
#   expired.pem expired.key     signed by the CA, valid only in 2020
#   selfsigned.pem selfsigned.key   self-signed, SAN localhost + 127.0.0.1
#   wronghost.pem wronghost.key signed by the CA, SAN wrong.example only
#   other-ca.pem other-ca.key   a second CA the tests do not trust
# Exit status 0 on success; any openssl failure aborts with status 1.
set -eu

dir=${1:?usage: tls-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
OPENSSL=${OPENSSL:-openssl}
# Keep the user's openssl.cnf out of it; everything is given explicitly.
OPENSSL_CONF=/dev/null
export OPENSSL_CONF

newkey() {
	"$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1.key" 2>/dev/null
}

# mkca NAME CN: a self-signed CA certificate.
mkca() {
	newkey "$1"
	"$OPENSSL" req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 \
	    -subj "/O=fetchmail test/CN=$2" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# ext NAME SAN: write the extension section for a server certificate.
ext() {
	printf '[srv]\nbasicConstraints=CA:FALSE\nsubjectAltName=%s\n' "$2" \
	    >"$1.ext"
	printf 'keyUsage=critical,digitalSignature\n' >>"$1.ext"
	printf 'extendedKeyUsage=serverAuth,clientAuth\n' >>"$1.ext"
}

# leaf NAME CN SAN CA: a server certificate signed by CA, valid now.
leaf() {
	newkey "$1"
	ext "$1" "$3"
	"$OPENSSL" req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" \
	    2>/dev/null
	"$OPENSSL" x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" \
	    -CAcreateserial -days 365 -extfile "$1.ext" -extensions srv \
	    -out "$1.pem" 2>/dev/null
}

# expired NAME CN SAN CA: like leaf, but valid only during 2020.
# openssl x509 cannot set past dates, so use a throw-away "openssl ca".
expired() {
	newkey "$1"
	ext "$1" "$3"
	"$OPENSSL" req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" \
	    2>/dev/null
	mkdir -p ca.db
	: >ca.db/index.txt
	printf '1000\n' >ca.db/serial
	cat >ca.db/ca.cnf <<EOF
[ca]
default_ca = tca
[tca]
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
EOF
	"$OPENSSL" ca -batch -config ca.db/ca.cnf -cert "$4.pem" \
	    -keyfile "$4.key" -in "$1.csr" -out "$1.pem" -notext \
	    -startdate 20200101000000Z -enddate 20200102000000Z \
	    -extfile "$1.ext" -extensions srv 2>/dev/null
	rm -rf ca.db
}

selfsigned() {
	newkey "$1"
	"$OPENSSL" req -new -x509 -key "$1.key" -out "$1.pem" -days 365 \
	    -subj "/CN=$2" -addext "subjectAltName=$3" \
	    -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null
}

san='DNS:localhost,IP:127.0.0.1'
mkca ca 'Test CA'
mkca other-ca 'Untrusted CA'
leaf good localhost "$san" ca
leaf wronghost wrong.example 'DNS:wrong.example' ca
expired expired localhost "$san" ca
selfsigned selfsigned localhost "$san"
rm -f ./*.csr ./*.ext ./*.srl
for f in ca good wronghost expired selfsigned other-ca; do
	test -s "$f.pem" && test -s "$f.key" || {
		echo "tls-certs.sh: $f not created" >&2
		exit 1
	}
done
exit 0
