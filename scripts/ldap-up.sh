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
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_LDAP_DIR:-$root/target/ldap}"
port="${MUSTER_LDAP_PORT:-3890}"
suffix="dc=example,dc=com"
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v slapd >/dev/null || ! command -v ldapadd >/dev/null; then
    echo "ldap-up: installing slapd and ldap-utils" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd ldap-utils >&2 ||
        { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd ldap-utils >&2; }
fi

"$root/scripts/ldap-down.sh" >&2 || true
rm -rf "$dir"
mkdir -p "$dir/db"
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
slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/" >&2

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

echo "export MUSTER_LDAP_URL=ldap://127.0.0.1:$port"
echo "export MUSTER_LDAP_BASE=$suffix"
echo "export MUSTER_LDAP_ADMIN_DN=cn=admin,$suffix"
echo "export MUSTER_LDAP_ADMIN_PASSWORD=$admin_password"
echo "export MUSTER_LDAP_READER_DN=cn=reader,$suffix"
echo "export MUSTER_LDAP_READER_PASSWORD=$reader_password"
# A reader the server cuts off after 10 objects, paged or not.
echo "export MUSTER_LDAP_LIMITED_DN=cn=limited,$suffix"
