#!/bin/sh
# Installs the Debian packages the differential, real-server and kernel suites use, when this runs as
# root on a machine with apt-get. Otherwise it says why it does nothing; the suites then print why they skip.
# A package that cannot be installed is reported and skipped, never fatal: its suite skips with a reason.
if [ "$(id -u)" != 0 ]; then echo "install-debian: not root, Debian packages not installed (suites needing them will skip)"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "install-debian: no apt-get, Debian packages not installed (suites needing them will skip)"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
PKGS="ldirectord ipvsadm iproute2 nftables iputils-ping procps groff-base man-db"
# real protocol servers for the negotiate checks, the OCF tester, and the kernel harness
PKGS="$PKGS $(cat "$(dirname "$0")/debian-packages.txt" 2>/dev/null | grep -v '^#' | tr '\n' ' ')"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# The cluster stack for test:ha is downloaded and extracted, never installed (it would start a corosync here).
sh "$(dirname "$0")/ha-packages.sh"
if [ -z "$missing" ]; then echo "install-debian: all packages present"; exit 0; fi
echo "install-debian: installing$missing"
apt-get update -qq >/dev/null 2>&1 || echo "install-debian: apt-get update failed"
# All at once first (one dependency resolution); when that fails, one by one so that one package
# that cannot be had costs only its own suite.
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
  for p in $missing; do
    apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || echo "install-debian: could not install $p (its suite will skip)"
  done
fi
exit 0
