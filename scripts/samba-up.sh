#!/usr/bin/env bash
# Starts a throw-away Active Directory domain controller (Samba's AD DC) on
# 127.0.0.1 for the AD tests (directory-sources/tests/ad.rs), and prints the
# environment they read:
#
#   eval "$(scripts/samba-up.sh)"
#
# Installs Debian's samba packages when missing, provisions a new domain
# (MUSTER.TEST, DC=muster,DC=test) under target/samba, adds the accounts and
# bulk data of scripts/samba/directory.ldif straight into the DC's database,
# and starts only the DC's LDAP service (ldap:// on 389, ldaps:// on 636,
# the global catalog on 3268/3269), bound to that one address. Stop it with
# scripts/samba-down.sh.
#
# Secrets: the Administrator's and the reader's passwords are random, set
# through LDIF on standard input (never on a command line), kept in the
# DC's directory readable by this user only, and printed nowhere but in the
# `export` lines below.
#
# TLS: Samba's own self-signed certificate names its host only in the
# subject's CN, which rustls (like every RFC 6125 client) does not read, so
# it could not be verified even with its CA. Like a Windows DC enrolled
# with the organisation's CA, this DC gets a certificate from a throw-away
# test CA for `localhost`, `dc1.muster.test` and its address; only the CA's
# certificate is exported (MUSTER_AD_CA_FILE).
#
# One DC per directory: when the one this script (same script, same LDIF)
# started is still running and answering, its environment is printed again
# instead of provisioning anew. MUSTER_AD_FRESH=1 starts over. Samba's LDAP
# ports are fixed and it binds only addresses an interface carries, so one
# machine runs one test DC: a start while another answers on 127.0.0.1:389
# (another worktree's) fails, saying so.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_AD_DIR:-$root/target/samba}"
address=127.0.0.1
realm="MUSTER.TEST"
base="DC=muster,DC=test"
bulk_users=1600
timeout_seconds="${MUSTER_AD_START_TIMEOUT:-60}"
export PATH="$PATH:/usr/sbin:/sbin"

fail() {
    echo "samba-up: $*" >&2
    exit 1
}

# The DC, its provisioning data (samba-ad-provision, samba-dsdb-modules,
# samba-vfs-modules: without them provisioning fails), ldbadd/ldbsearch,
# and ldapsearch to see it answer.
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
install_missing samba-up samba samba-ad-provision samba-dsdb-modules samba-vfs-modules \
    ldb-tools ldap-utils openssl || exit 1
[ "$(id -u)" -eq 0 ] || fail "a Samba DC must run as root (its database and sysvol ACLs need it)"

# Two runs starting at once take turns (the lock lives beside the directory,
# which a start deletes).
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9

env_file="$dir/env"
stamp="$(cat "$0" "$root"/scripts/lib.sh "$root"/scripts/samba/* | sha256sum | cut -d' ' -f1)"
answers() {
    ldapsearch -x -H "ldap://$address" -b "" -s base defaultNamingContext >/dev/null 2>&1
}
if [ "${MUSTER_AD_FRESH:-0}" != 1 ] && [ -f "$env_file" ] && [ -f "$dir/run/samba.pid" ] &&
    [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] &&
    kill -0 "$(cat "$dir/run/samba.pid")" 2>/dev/null && answers; then
    echo "samba-up: reusing the running test DC" >&2
    cat "$env_file"
    exit 0
fi

MUSTER_AD_DIR="$dir" "$root/scripts/samba-down.sh" >&2 || true
if answers; then
    fail "something else already answers LDAP on $address:389 (another worktree's test DC? stop it with that worktree's scripts/samba-down.sh)"
fi
rm -rf "$dir"
mkdir -p "$dir/run" "$dir/log" "$dir/tls"
chmod 700 "$dir"

# The DC's certificate, from a throw-away CA (see the header; scripts/lib.sh).
tls="$dir/tls"
test_certificate "$tls" "muster test AD CA" dc1.muster.test \
    "DNS:dc1.muster.test,DNS:localhost,IP:$address"
chmod 600 "$tls/server.key"

# The domain. Only the LDAP service runs (no SMB, KDC, DNS, RPC, NBT,
# replication), in two worker processes, on one address; logs, pid and
# sockets stay in the directory. Without --adminpass samba-tool picks a
# random Administrator password and logs it: that line is dropped, and the
# password is replaced below anyway.
provision_log="$dir/log/provision.log"
if ! samba-tool domain provision \
    --realm="$realm" --domain=MUSTER --host-name=dc1 \
    --server-role=dc --dns-backend=NONE --use-rfc2307 \
    --targetdir="$dir" \
    --option="interfaces = $address" \
    --option="bind interfaces only = yes" \
    --option="server services = ldap" \
    --option="prefork children = 2" \
    --option="log file = $dir/log/samba.log" \
    --option="pid directory = $dir/run" \
    --option="ncalrpc dir = $dir/run/ncalrpc" \
    --option="winbindd socket directory = $dir/run/winbindd" \
    --option="ntp signd socket directory = $dir/run/ntp_signd" \
    --option="tls keyfile = $tls/server.key" \
    --option="tls certfile = $tls/server.pem" \
    --option="tls cafile = $tls/ca.pem" \
    2>&1 | { grep -v -i "password" || true; } >"$provision_log"; then
    tail -n 20 "$provision_log" >&2
    fail "samba-tool domain provision failed (log: $provision_log)"
fi
[ -f "$dir/private/sam.ldb" ] || {
    tail -n 20 "$provision_log" >&2
    fail "samba-tool domain provision made no database (log: $provision_log)"
}

random_password() {
    # AD's complexity rule wants three character classes: the prefix has them.
    printf 'Aa1%s' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
}
unicode_pwd() {
    # AD's unicodePwd: the password in double quotes, UTF-16LE, base64.
    printf '"%s"' "$1" | iconv -f utf-8 -t utf-16le | base64 -w0
}
admin_password="$(random_password)"
reader_password="$(random_password)"
sam="$dir/private/sam.ldb"

# The directory's contents, straight into the DC's database before it
# starts: the LDIF (passwords filled in), then the bulk users and one group
# with all of them as members.
{
    printf 'dn: CN=Administrator,CN=Users,%s\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: %s\n' \
        "$base" "$(unicode_pwd "$admin_password")"
} | ldbmodify -H "$sam" >/dev/null || fail "could not set the Administrator's password (ldbmodify on $sam)"
{
    # Filled in by the shell, not sed: the password stays off command lines.
    ldif="$(cat "$root/scripts/samba/directory.ldif")"
    ldif="${ldif//@BASE@/$base}"
    printf '%s\n' "${ldif//@READER_PASSWORD@/$(unicode_pwd "$reader_password")}"
    awk -v base="$base" -v n="$bulk_users" 'BEGIN {
        # userAccountControl 544: a normal account that needs no password.
        for (i = 1; i <= n; i++) {
            id = sprintf("bulk%04d", i)
            printf "\ndn: CN=%s,OU=Bulk,%s\nobjectClass: user\nsAMAccountName: %s\n", id, base, id
            printf "mail: %s@muster.test\nuserAccountControl: 544\n", id
        }
        printf "\ndn: CN=bulk-all,OU=Bulk,%s\nobjectClass: group\nsAMAccountName: bulk-all\n", base
        printf "mail: bulk-all@muster.test\n"
        for (i = 1; i <= n; i++) printf "member: CN=bulk%04d,OU=Bulk,%s\n", i, base
    }'
} | ldbadd -H "$sam" >"$dir/log/populate.log" 2>&1 || {
    grep -v -i "unicodePwd" "$dir/log/populate.log" | tail -n 20 >&2
    fail "could not add the test directory (ldbadd on $sam; log: $dir/log/populate.log)"
}

# Without the lock's descriptor: the daemon would hold the lock for its life.
samba --configfile="$dir/etc/smb.conf" --daemon 9>&- ||
    fail "samba would not start (log: $dir/log/samba.log)"

# Up when an authenticated search over ldaps, verified with the CA, answers:
# then TLS, the bind and the database all work.
printf '%s' "$admin_password" >"$dir/private/admin.pw"
chmod 600 "$dir/private/admin.pw"
deadline=$((SECONDS + timeout_seconds))
stop_and_fail() {
    tail -n 20 "$dir/log/samba.log" >&2 || true
    kill "$(cat "$dir/run/samba.pid" 2>/dev/null)" 2>/dev/null || true
    fail "$@"
}
until LDAPTLS_CACERT="$tls/ca.pem" ldapsearch -x -H "ldaps://$address" \
    -D "CN=Administrator,CN=Users,$base" -y "$dir/private/admin.pw" \
    -b "$base" -s base dn >/dev/null 2>&1; do
    # (The daemon writes its pid file a moment after `samba --daemon` returns.)
    pid="$(cat "$dir/run/samba.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        stop_and_fail "samba exited while starting (log: $dir/log/samba.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        stop_and_fail "the DC did not answer an ldaps search on $address:636 within ${timeout_seconds}s; stopped it (log: $dir/log/samba.log)"
    fi
    sleep 0.2
done

# The environment, kept (readable by this user only: it holds the
# passwords) for the next run that reuses this DC.
umask 077
{
    # ldap:// takes no simple bind without TLS (Samba's "ldap server
    # require strong auth" default, like a hardened Windows DC).
    echo "export MUSTER_AD_LDAP_URL=ldap://$address"
    echo "export MUSTER_AD_LDAPS_URL=ldaps://$address"
    echo "export MUSTER_AD_BASE=$base"
    echo "export MUSTER_AD_ADMIN_DN=CN=Administrator,CN=Users,$base"
    echo "export MUSTER_AD_ADMIN_PASSWORD=$admin_password"
    echo "export MUSTER_AD_READER_DN=CN=muster-reader,CN=Users,$base"
    echo "export MUSTER_AD_READER_PASSWORD=$reader_password"
    # The test CA that signed the DC's certificate.
    echo "export MUSTER_AD_CA_FILE=$tls/ca.pem"
    # The DC's own database, for ldbsearch: how the DC itself shows a value.
    echo "export MUSTER_AD_SAM_LDB=$sam"
    # Read-only bulk data: users, and one group (bulk-all) with all of them.
    echo "export MUSTER_AD_BULK_OU=OU=Bulk,$base"
    echo "export MUSTER_AD_BULK_USERS=$bulk_users"
} >"$env_file"
echo "$stamp" >"$dir/stamp"
cat "$env_file"
