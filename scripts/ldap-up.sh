#!/usr/bin/env bash
# Starts a throw-away OpenLDAP server on 127.0.0.1 with Active Directory's
# user schema (Debian's msuser.schema plus scripts/ldap/ad-extras.schema) for
# the LDAP tests, and prints the environment they read:
#
#   eval "$(scripts/ldap-up.sh)"
#
# Installs slapd from Debian's packages when missing. Like a domain
# controller's MaxPageSize, the server answers at most 1000 objects per search
# to anyone but its admin, unless the client pages; `cn=limited` gets 10 in
# all, paged or not, like a server that cuts a search short. Stop it with
# scripts/ldap-down.sh.
#
# TLS: every start makes a fresh throw-away test CA and a server certificate
# for `localhost` and 127.0.0.1 (openssl, installed when missing), so StartTLS
# works on the plain port and `ldaps://` listens on the next port (3891).
# The same ldaps listener also answers on 127.0.0.2, an address the
# certificate does not name, for the wrong-host-name test. Only the CA's
# certificate is exported (MUSTER_LDAP_CA_FILE); the keys stay in the
# server's directory and die with it.
#
# One server per directory and port: when the one this script (same script,
# same schema files, same port) started is still running and answering, its
# environment is printed again instead of restarting it, so test runs that
# share the machine do not pull the passwords from under each other. Set
# MUSTER_LDAP_FRESH=1 to restart it anyway.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_LDAP_DIR:-$root/target/ldap}"
port="${MUSTER_LDAP_PORT:-3890}"
ldaps_port="$((port + 1))"
suffix="dc=example,dc=com"
export PATH="$PATH:/usr/sbin:/sbin"

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
install_missing ldap-up slapd ldap-utils openssl

# Two runs starting at once take turns (the lock lives beside the directory,
# which a start deletes).
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9

env_file="$dir/env"
stamp="$(cat "$0" "$root"/scripts/lib.sh "$root"/scripts/ldap/* | sha256sum | cut -d' ' -f1) $port"
if [ "${MUSTER_LDAP_FRESH:-0}" != 1 ] && [ -f "$env_file" ] && [ -f "$dir/slapd.pid" ] &&
    [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] &&
    kill -0 "$(cat "$dir/slapd.pid")" 2>/dev/null &&
    ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base >/dev/null 2>&1; then
    echo "ldap-up: reusing the running test server" >&2
    cat "$env_file"
    exit 0
fi

"$root/scripts/ldap-down.sh" >&2 || true
rm -rf "$dir"
mkdir -p "$dir/db" "$dir/tls"

# The test CA and the server's certificate, for exactly localhost and
# 127.0.0.1 (scripts/lib.sh).
tls="$dir/tls"
test_certificate "$tls" "muster test CA" localhost "DNS:localhost,IP:127.0.0.1"
admin_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
reader_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"

cat > "$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/msuser.schema
include $root/scripts/ldap/ad-extras.schema
pidfile $dir/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited
TLSCACertificateFile $tls/ca.pem
TLSCertificateFile $tls/server.pem
TLSCertificateKeyFile $tls/server.key
database mdb
maxsize 268435456
suffix "$suffix"
rootdn "cn=admin,$suffix"
rootpw $admin_password
directory $dir/db
limits dn.exact="cn=limited,$suffix" size.soft=10 size.hard=10 size.prtotal=10
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
CONF

slaptest -Q -u -f "$dir/slapd.conf" >&2
# Without the lock's descriptor: the daemon would hold the lock for its life.
slapd -f "$dir/slapd.conf" \
    -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$ldaps_port/ ldaps://127.0.0.2:$ldaps_port/" >&2 9>&-

for _ in $(seq 1 50); do
    if ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base >/dev/null 2>&1; then
        break
    fi
    sleep 0.2
done

ldapadd -x -H "ldap://127.0.0.1:$port" -D "cn=admin,$suffix" -w "$admin_password" >&2 <<LDIF
dn: $suffix
objectClass: domain
dc: example

dn: cn=reader,$suffix
objectClass: person
objectClass: simpleSecurityObject
cn: reader
sn: Reader
userPassword: $reader_password

dn: cn=limited,$suffix
objectClass: person
objectClass: simpleSecurityObject
cn: limited
sn: Limited
userPassword: $reader_password
LDIF

# The environment, kept (readable by this user only: it holds the
# passwords) for the next run that reuses this server.
umask 077
{
    echo "export MUSTER_LDAP_URL=ldap://127.0.0.1:$port"
    echo "export MUSTER_LDAP_BASE=$suffix"
    echo "export MUSTER_LDAP_ADMIN_DN=cn=admin,$suffix"
    echo "export MUSTER_LDAP_ADMIN_PASSWORD=$admin_password"
    echo "export MUSTER_LDAP_READER_DN=cn=reader,$suffix"
    echo "export MUSTER_LDAP_READER_PASSWORD=$reader_password"
    # A reader the server cuts off after 10 objects, paged or not.
    echo "export MUSTER_LDAP_LIMITED_DN=cn=limited,$suffix"
    # TLS: the test CA that signed the server's certificate (for localhost and
    # 127.0.0.1), ldaps:// on the next port, and the same listener on an address
    # the certificate does not name.
    echo "export MUSTER_LDAP_CA_FILE=$tls/ca.pem"
    echo "export MUSTER_LDAP_LDAPS_URL=ldaps://127.0.0.1:$ldaps_port"
    echo "export MUSTER_LDAP_LDAPS_WRONG_NAME_URL=ldaps://127.0.0.2:$ldaps_port"
} >"$env_file"
echo "$stamp" >"$dir/stamp"
cat "$env_file"
