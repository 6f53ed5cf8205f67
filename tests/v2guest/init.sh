#!/bin/sh
# Stage 1 of the v2 guest (guest.sh), PID 1 in the initramfs: builds the root
# (the host's "/" over 9p, read-only, under a tmpfs overlay), gives it /run
# with the exchange share and a view of the bare host root, and hands over to
# stage2.sh, which runs on the host's own userland.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

give_up() {
    echo "v2guest-init: $*" > /dev/console
    echo o > /proc/sysrq-trigger   # power off: the host reports the missing status
    sleep 30
}

while read -r module; do
    insmod "/modules/$module" || give_up "insmod $module failed"
done < /modules/order

NINEP=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$NINEP,ro,cache=loose" host /host || give_up "cannot mount the host's root over 9p"
mount -t tmpfs -o mode=0755 cow /cow
mkdir /cow/upper /cow/work
mount -t overlay -o lowerdir=/host,upperdir=/cow/upper,workdir=/cow/work root /root \
    || give_up "cannot build the overlay root"
mount -t tmpfs -o mode=0755,nosuid,nodev run /root/run
mkdir -p /root/run/v2guest/xchg /root/run/v2guest/host
mount -t 9p -o "$NINEP,cache=none" xchg /root/run/v2guest/xchg || give_up "cannot mount the exchange share"
mount --bind /host /root/run/v2guest/host
umount /proc /sys /dev 2>/dev/null   # stage2.sh mounts its own
exec switch_root /root /bin/bash /run/v2guest/xchg/stage2.sh
