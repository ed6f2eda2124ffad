#!/bin/sh
# Fetches the cluster stack for the test:ha tier WITHOUT installing it: `apt-get download` of corosync,
# pacemaker, pacemaker-cli-utils and the dependencies this machine lacks (28 .debs, ~6 MB) into
# $LDTS_HA_CACHE/debs, then `dpkg-deb -x` into $LDTS_HA_CACHE/root (default /opt/ldts-ha). The cache must be
# outside /usr, /etc and /var: test/ha overlays root/usr, root/etc, root/var on them inside each node's mount
# namespace (overlayfs refuses overlapping layers). Nothing is installed or started on the host.
# Never fatal: says why it does nothing; test:ha then prints why it skips.
C=${LDTS_HA_CACHE:-/opt/ldts-ha}
if [ "$(id -u)" != 0 ]; then echo "ha-packages: not root, cluster packages not fetched (test:ha will skip)"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "ha-packages: no apt-get/dpkg-deb, cluster packages not fetched (test:ha will skip)"; exit 0; fi
if [ -x "$C/root/usr/sbin/corosync" ] && [ -x "$C/root/usr/sbin/pacemakerd" ]; then echo "ha-packages: present in $C"; exit 0; fi
PKGS=$(apt-get install -s --no-install-recommends corosync pacemaker pacemaker-cli-utils 2>/dev/null | awk '/^Inst/{print $2}')
if [ -z "$PKGS" ]; then echo "ha-packages: apt cannot resolve corosync/pacemaker (test:ha will skip)"; exit 0; fi
mkdir -p "$C/debs" "$C/root" || exit 0
# apt's sandbox user cannot write here: the download runs as root (apt warns, harmless).
if ! (cd "$C/debs" && apt-get download $PKGS >/dev/null 2>&1); then
  echo "ha-packages: apt-get download failed (test:ha will skip)"; exit 0; fi
for d in "$C"/debs/*.deb; do dpkg-deb -x "$d" "$C/root" || { echo "ha-packages: cannot extract $d"; exit 0; }; done
echo "ha-packages: $(ls "$C/debs" | wc -l) packages extracted into $C/root"
exit 0
