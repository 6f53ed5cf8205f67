#!/usr/bin/env bash
# Stage 2 of the v2 guest (guest.sh), PID 1 on the host's userland: the kernel
# API filesystems, cgroup2 alone at /sys/fs/cgroup with the controllers on, the
# shares guest.sh asked for, then the command; it leaves the command's status
# in the exchange share and powers the guest off.
X=/run/v2guest/xchg
HOST=/run/v2guest/host   # the host's root as it is, under the overlay
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/null >/dev/ttyS0 2>&1
mkdir -p /dev/pts /dev/shm /run/lock
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup

power_off() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 30
}

# shellcheck source=/dev/null
. "$X/kernel"   # KV KDIR: the guest kernel's modules, so that modprobe finds veth, bridge, nf_tables
mkdir -p "/lib/modules/$KV"
mount --bind "$HOST$KDIR/lib/modules/$KV" "/lib/modules/$KV"

for controller in cpu cpuset io memory pids; do
    echo "+$controller" > /sys/fs/cgroup/cgroup.subtree_control || echo "v2guest: no $controller controller"
done
ip link set lo up
echo v2guest > /proc/sys/kernel/hostname

cow=0
while read -r kind path; do
    mkdir -p "$path"
    case $kind in
        tmpfs) mount -t tmpfs -o mode=0755 tmpfs "$path" ;;
        rw*) mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none "$kind" "$path" ;;
        ro) cow=$((cow + 1)); mkdir -p "/run/v2guest/cow$cow/upper" "/run/v2guest/cow$cow/work"
            mount -t overlay -o "lowerdir=$HOST$path,upperdir=/run/v2guest/cow$cow/upper,workdir=/run/v2guest/cow$cow/work" \
                "view$cow" "$path" ;;
    esac || { echo "v2guest: cannot share $path ($kind)"; echo 125 > "$X/status"; power_off; }
done < "$X/shares"

# stdout and stderr are pipes, as under CI; relays copy them to the serial ports
# that guest.sh reads. A daemon the command left behind may hold a pipe open:
# the relays get a few seconds to drain, no more.
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
mkfifo /run/v2guest/out /run/v2guest/err
cat /run/v2guest/out > /dev/ttyS1 & out_relay=$!
cat /run/v2guest/err > /dev/ttyS2 & err_relay=$!
bash "$X/command" > /run/v2guest/out 2> /run/v2guest/err
status=$?
( sleep 5; kill "$out_relay" "$err_relay" ) 2>/dev/null &
wait "$out_relay" "$err_relay" 2>/dev/null
echo "$status" > "$X/status"
power_off
