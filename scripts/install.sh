#!/bin/sh
# Install ldirectord-ts from this checkout.
#
#   scripts/install.sh [--prefix DIR] [--link-sbin] [--compat]
#
#   --prefix DIR   npm global prefix (default: npm's own, usually /usr/local)
#   --link-sbin    also make /usr/sbin/ldirectord a symbolic link to the installed
#                  command (where the OCF agent, the init script and the systemd
#                  unit expect it; replaces the Perl ldirectord's file there, which
#                  is first kept as /usr/sbin/ldirectord.perl)
#   --compat       install the man pages, the OCF agent (provider ldirectord-ts),
#                  the init script, the systemd unit and the logrotate snippet
#
# What it does is `npm pack` and `npm install -g ./ldirectord-ts-*.tgz`.
# npm 11 does not run dependencies' install scripts in a global install unless
# allowed (npm then prints a warning): for the ping check's raw-socket module,
# run this script with NPM_CONFIG_ALLOW_SCRIPTS=raw-socket in the environment,
# or install by hand with `npm install -g --allow-scripts=raw-socket TGZ`.
set -eu
PREFIX=""
LINK=no
COMPAT=no
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) PREFIX="$2"; shift 2 ;;
	--link-sbin) LINK=yes; shift ;;
	--compat) COMPAT=yes; shift ;;
	-h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# dist/ is built by `npm ci` (the prepare script); build it if it is missing
[ -f "$HERE/dist/cli/main.js" ] || (cd "$HERE" && npm run --silent build) || true
(cd "$HERE" && npm pack --silent --ignore-scripts --pack-destination "$WORK" >/dev/null)
TGZ=$(ls "$WORK"/ldirectord-ts-*.tgz)
if [ -n "$PREFIX" ]; then
	npm install -g --no-audit --no-fund --prefix "$PREFIX" "$TGZ"
	BIN="$PREFIX/bin/ldirectord"
else
	npm install -g --no-audit --no-fund "$TGZ"
	BIN="$(npm prefix -g)/bin/ldirectord"
fi
"$BIN" -v >/dev/null
echo "installed $BIN"
if [ "$LINK" = yes ]; then
	if [ -e /usr/sbin/ldirectord ] && [ ! -L /usr/sbin/ldirectord ]; then
		mv /usr/sbin/ldirectord /usr/sbin/ldirectord.perl
		echo "kept the previous /usr/sbin/ldirectord as /usr/sbin/ldirectord.perl"
	fi
	ln -sf "$BIN" /usr/sbin/ldirectord
	echo "linked /usr/sbin/ldirectord -> $BIN"
fi
if [ "$COMPAT" = yes ]; then
	install -D -m 644 "$HERE/man/ldirectord.8" /usr/local/share/man/man8/ldirectord.8
	install -D -m 644 "$HERE/man/ldirectord.cf.5" /usr/local/share/man/man5/ldirectord.cf.5
	install -D -m 755 "$HERE/compat/ocf/ldirectord" /usr/lib/ocf/resource.d/ldirectord-ts/ldirectord
	install -D -m 755 "$HERE/compat/init.d/ldirectord" /etc/init.d/ldirectord
	install -D -m 644 "$HERE/compat/systemd/ldirectord.service" /etc/systemd/system/ldirectord.service
	install -D -m 644 "$HERE/compat/logrotate/ldirectord" /etc/logrotate.d/ldirectord
	echo "installed man pages, OCF agent ocf:ldirectord-ts:ldirectord, init script, systemd unit, logrotate snippet"
fi
