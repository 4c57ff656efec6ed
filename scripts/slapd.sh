#!/usr/bin/env bash
# Starts or stops a throwaway OpenLDAP server (slapd) for the tests.
#
#   scripts/slapd.sh start DIR   writes DIR/slapd.conf, starts slapd on a free
#                                loopback port, adds the base entries and
#                                prints the URL (ldap://127.0.0.1:PORT)
#   scripts/slapd.sh stop DIR    stops it (by the pid recorded in DIR)
#
# Suffix dc=example,dc=test; the admin is cn=admin,dc=example,dc=test with the
# password "secret". The base holds ou=people and ou=groups. The memberof
# overlay keeps memberOf on people in step with the member attribute of
# groupOfNames groups, as it does in production directories.
#
# Binds other than the admin get at most 10 entries from a search unless they
# page it (RFC 2696), as with Active Directory's MaxPageSize: a client that
# does not page fails here as it would on a large production directory.
#
# The database is not synced to disk (dbnosync): the data is thrown away.
#
# If DIR/tls.crt and DIR/tls.key (PEM) exist before start, slapd serves
# StartTLS with them.
# Needs the Debian packages slapd and ldap-utils.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
suffix="dc=example,dc=test"
admin="cn=admin,$suffix"
password=secret
for b in slapd slaptest slappasswd ldapadd; do
	command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
		{ echo "slapd.sh: $b is missing: apt-get install slapd ldap-utils" >&2; exit 3; }
done
PATH=$PATH:/usr/sbin
case $cmd in
start)
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
	tls=
	if [ -f "$dir/tls.crt" ] && [ -f "$dir/tls.key" ]; then
		tls="TLSCertificateFile $dir/tls.crt
TLSCertificateKeyFile $dir/tls.key"
	fi
	cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
sizelimit size.soft=10 size.hard=10 size.pr=unlimited size.prtotal=unlimited
$tls
database mdb
maxsize 1073741824
dbnosync
suffix "$suffix"
rootdn "$admin"
rootpw $(slappasswd -s "$password")
directory $dir/data
overlay memberof
CONF
	slaptest -f "$dir/slapd.conf" -u >"$dir/slaptest.log" 2>&1 ||
		{ cat "$dir/slaptest.log" >&2; exit 1; }
	slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/" 2>"$dir/slapd.log" ||
		{ cat "$dir/slapd.log" >&2; exit 1; }
	cat >"$dir/base.ldif" <<LDIF
dn: $suffix
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,$suffix
objectClass: organizationalUnit
ou: people

dn: ou=groups,$suffix
objectClass: organizationalUnit
ou: groups
LDIF
	# slapd forks before it listens: retry until it answers (about 5 s at most).
	for i in $(seq 1 50); do
		if ldapadd -x -H "ldap://127.0.0.1:$port" -D "$admin" -w "$password" -f "$dir/base.ldif" >"$dir/ldapadd.log" 2>&1; then
			echo "ldap://127.0.0.1:$port"
			exit 0
		fi
		sleep 0.1
	done
	cat "$dir/ldapadd.log" >&2
	"$0" stop "$dir"
	exit 1
	;;
stop)
	if [ -f "$dir/slapd.pid" ]; then
		pid=$(cat "$dir/slapd.pid")
		kill "$pid" 2>/dev/null || true
		# Wait for it to exit so that the caller can remove DIR.
		for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$dir/slapd.pid"
	fi
	;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
