#!/bin/sh
# PID 1 of one cluster node: runs inside `ip netns exec NS unshare --mount --uts --ipc --pid --fork --mount-proc`.
# Args: NODE_DIR PKG_ROOT USR_EXTRA NAME. Private /run, /dev/shm; /usr, /etc, /var overlaid with the extracted
# Debian packages (PKG_ROOT) and USR_EXTRA (the fake ipvsadm, the project's OCF agent); then corosync + pacemakerd.
# Nothing here touches the host: every mount lives and dies with this mount namespace.
set -e
D=$1; R=$2; X=$3; NAME=$4
mount --make-rprivate /
hostname "$NAME"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t overlay overlay -o "lowerdir=$X:$R/usr:/usr" /usr
mkdir -p "$D/etc-up" "$D/etc-work" "$D/var-up" "$D/var-work"
mount -t overlay overlay -o "lowerdir=$R/etc:/etc,upperdir=$D/etc-up,workdir=$D/etc-work" /etc
mount -t overlay overlay -o "lowerdir=$R/var:/var,upperdir=$D/var-up,workdir=$D/var-work" /var
getent group haclient >/dev/null || echo "haclient:x:189:" >>/etc/group
getent passwd hacluster >/dev/null || echo "hacluster:x:189:189::/var/lib/pacemaker:/usr/sbin/nologin" >>/etc/passwd
for d in /var/lib/pacemaker /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox \
  /var/lib/pacemaker/cores /var/log/pacemaker /var/lib/corosync /var/log/corosync /run/pacemaker; do
  mkdir -p "$d"; chown hacluster:haclient "$d"; chmod 770 "$d"
done
cp "$D/corosync.conf" /etc/corosync/corosync.conf
rm -f /var/lib/pacemaker/cib/* 2>/dev/null || true
export LDIRECTORD_IPVS_DRIVER=ipvsadm PCMK_logfile=/var/log/pacemaker/pacemaker.log
corosync -f >"$D/corosync.out" 2>&1 &
echo $! >"$D/corosync.pid"
i=0; while [ ! -e /run/corosync.pid ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
sleep 1
pacemakerd >"$D/pacemakerd.out" 2>&1 &
echo $! >"$D/pacemakerd.pid"
echo ready >"$D/ready"
# Stay PID 1 (reaps orphans) until killed; killing this process ends every process of the node.
while :; do sleep 3600 & wait $! || true; done
