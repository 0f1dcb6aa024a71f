# shellcheck shell=bash
# Shared by the scripts that start the test services (ldap-up.sh,
# samba-up.sh, redis-up.sh): installing Debian packages, and the throw-away
# test CA and server certificate. Sourced, never run.

# install_missing WHO PKG...: installs the packages that are not installed
# yet (apt-get, as root or through sudo; the package lists are refreshed only
# when the first try fails). Messages go to stderr, prefixed with WHO.
install_missing() {
    local who=$1
    shift
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    echo "$who: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q
        --no-install-recommends "${missing[@]}")
    "${install[@]}" >&2 || { "${sudo[@]}" apt-get update -q >&2 && "${install[@]}" >&2; } || {
        echo "$who: could not install ${missing[*]} (apt-get failed; see above)" >&2
        return 1
    }
}

# test_certificate DIR CA_NAME SERVER_CN SUBJECT_ALT_NAMES: a throw-away CA
# (DIR/ca.pem; its key is deleted) and a TLS server certificate it signed
# (DIR/server.pem, DIR/server.key) for exactly SUBJECT_ALT_NAMES
# (`DNS:localhost,IP:127.0.0.1`). EC P-256: quick to make, and GnuTLS and
# rustls both speak it. The CA is marked as one (basicConstraints CA:TRUE,
# keyCertSign) and the server certificate as a TLS server's, as certificate
# verifiers insist; both expire in two days.
test_certificate() {
    local tls=$1 ca_name=$2 cn=$3 names=$4
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 -subj "/CN=$ca_name" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=$cn" 2>/dev/null
    cat >"$tls/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$names
EXT
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 2 -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
    rm -f "$tls/ca.key" "$tls/server.csr"
}
