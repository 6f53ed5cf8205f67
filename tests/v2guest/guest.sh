#!/usr/bin/env bash
# guest.sh -- run one command in a throw-away Linux guest whose cgroups are pure
# v2 (cgroup_no_v1=all), as on most users' hosts, and exit with its status.
#
#   tests/v2guest/guest.sh [--tmpfs DIR]... [--rw DIR]... [--ro DIR]... -- CMD [ARG]...
#   tests/v2guest/guest.sh --prepare     (only fetch and build what a boot needs)
#
# The guest is Debian's stock kernel under qemu (KVM when it can run a stock
# kernel, else the software CPU), booted from a small busybox initramfs
# (init.sh) that shows it this host's "/" read-only over 9p with a throw-away
# tmpfs overlay on top, then hands over to stage2.sh, which runs CMD with the
# host's own userland: as root, in the caller's directory, with the caller's
# exported environment, stdin from /dev/null, stdout and stderr as pipes that
# come back here through serial ports. Only "lo" exists as network interface.
#
#   --tmpfs DIR  a fresh tmpfs at DIR (overlayfs wants its upper dirs off the
#                overlay root: give an engine's state root one)
#   --rw DIR     host DIR shared read-write at the same path (results to keep)
#   --ro DIR     host DIR shown copy-on-write at the same path; needed below
#                /tmp, /run and /dev/shm, which are fresh in the guest (the
#                caller's directory gets one automatically when below them)
#
# Knobs: BERTH_V2GUEST_CACHE (kernel, initramfs; default <repo>/.build/v2guest),
# BERTH_V2GUEST_MEM (MiB, 2048), BERTH_V2GUEST_CPUS (nproc),
# BERTH_V2GUEST_TIMEOUT (s, 1800), BERTH_V2GUEST_ACCEL (auto|kvm|tcg),
# BERTH_V2GUEST_KERNEL (a linux-image-* package; default what linux-image-amd64
# depends on), BERTH_V2GUEST_CONSOLE=1 (print the guest's kernel log after).
#
# Exit status: CMD's; 124 when the guest ran out of time; 125 when the guest
# could not run or reported no status (the kernel log's tail is printed).
# Needs root. What it needs from Debian (qemu-system-x86, busybox-static, kmod
# and the kernel package, only unpacked, never installed) it fetches itself.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${BERTH_V2GUEST_CACHE:-$REPO/.build/v2guest}
MEM=${BERTH_V2GUEST_MEM:-2048}
CPUS=${BERTH_V2GUEST_CPUS:-$(nproc)}
TIMEOUT=${BERTH_V2GUEST_TIMEOUT:-1800}
GUEST_MODULES=(virtio_pci 9pnet_virtio 9p overlay)   # what init.sh needs before the root exists

fail() { echo "v2guest: $*" >&2; exit 125; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# ------------------------------------------------------------------ arguments
SHARES=()   # "kind path" lines for stage2.sh: tmpfs, rw<N>, ro
RW_PATHS=()
PREPARE_ONLY=0
parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --tmpfs|--rw|--ro)
                [ $# -ge 2 ] || fail "$1 needs a directory"
                local path=$2
                [[ $path == /* ]] || fail "$1 needs an absolute directory, got '$path'"
                case $1 in
                    --tmpfs) SHARES+=("tmpfs $path") ;;
                    --rw) path=$(realpath -e -- "$path") || fail "--rw $2: no such directory"
                          SHARES+=("rw${#RW_PATHS[@]} $path"); RW_PATHS+=("$path") ;;
                    --ro) path=$(realpath -e -- "$path") || fail "--ro $2: no such directory"
                          SHARES+=("ro $path") ;;
                esac
                shift 2 ;;
            --) shift; break ;;
            --prepare) PREPARE_ONLY=1; return 0 ;;
            -h|--help) usage; exit 0 ;;
            *) fail "unknown option '$1' (see --help)" ;;
        esac
    done
    [ $# -gt 0 ] || fail "no command given (see --help)"
    COMMAND=("$@")
}

# -------------------------------------------------------------- host set-up
install_missing_packages() {
    local wanted=(qemu-system-x86 busybox-static kmod) missing=() pkg
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "v2guest: installing ${missing[*]}" >&2
    local log=$CACHE/apt.log
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"; } > "$log" 2>&1 || { cat "$log" >&2; fail "apt-get install ${missing[*]} failed"; }
}

kernel_package() {
    [ -n "${BERTH_V2GUEST_KERNEL:-}" ] && { echo "$BERTH_V2GUEST_KERNEL"; return; }
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then   # no package lists yet on a fresh machine
        apt-get update -qq >&2
        pkg=$(apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || fail "apt-cache cannot tell which kernel linux-image-amd64 is"
    echo "$pkg"
}

# Sets KDIR (the unpacked package), KV (its version) and KERNEL (what qemu boots).
unpack_kernel() {
    local pkg; pkg=$(kernel_package)
    KDIR=$CACHE/$pkg
    if [ ! -e "$KDIR/.complete" ]; then
        echo "v2guest: fetching $pkg (unpacked under $CACHE, not installed)" >&2
        local download; download=$(mktemp -d "$CACHE/download.XXXXXX")
        chmod 755 "$download"   # apt fetches as its own user, _apt
        (cd "$download" && apt-get download -q "$pkg" >&2) || { rm -rf "$download"; fail "apt-get download $pkg failed"; }
        rm -rf "$KDIR" && mkdir -p "$KDIR"
        dpkg-deb -x "$download"/*.deb "$KDIR"
        rm -rf "$download"
        KV=$(ls "$KDIR/lib/modules")
        depmod -b "$KDIR" "$KV"   # the package leaves modules.dep to its postinst
        touch "$KDIR/.complete"
    fi
    KV=$(ls "$KDIR/lib/modules")
    # An uncompressed ELF boots through its PVH entry: no in-guest decompression,
    # which costs seconds on a software CPU.
    KERNEL=$KDIR/boot/vmlinux-$KV
    if [ ! -f "$KERNEL" ]; then
        python3 "$HERE/vmlinux.py" "$KDIR/boot/vmlinuz-$KV" "$KERNEL.partial" || fail "cannot extract the kernel"
        mv "$KERNEL.partial" "$KERNEL"
    fi
}

# Sets INITRD: busybox, init.sh and the modules init.sh loads, keyed by all that goes in (this code too).
build_initrd() {
    local key; key=$( { echo "$KV ${GUEST_MODULES[*]}"; declare -f build_initrd; cat "$HERE/init.sh" /bin/busybox; } |
                      sha256sum | cut -c1-16)
    INITRD=$CACHE/initrd-$KV-$key.img
    [ -f "$INITRD" ] && return 0
    local tree; tree=$(mktemp -d "$CACHE/initrd.XXXXXX")
    chmod 755 "$tree"   # it becomes the initramfs root
    mkdir -p "$tree"/{bin,dev,proc,sys,host,cow,root,modules}
    cp /bin/busybox "$tree/bin/busybox"
    ln -s busybox "$tree/bin/sh"   # init.sh's interpreter; it installs the other applets itself
    mknod -m 600 "$tree/dev/console" c 5 1   # the kernel opens it for init's stdin, stdout and stderr
    cp "$HERE/init.sh" "$tree/init" && chmod 755 "$tree/init"
    local module file
    for module in "${GUEST_MODULES[@]}"; do   # dependencies first, each once
        modprobe -d "$KDIR" -S "$KV" --show-depends "$module" | awk '$1 == "insmod" {print $2}' |
        while read -r file; do
            [ -e "$tree/modules/$(basename "$file")" ] && continue
            cp "$file" "$tree/modules/" && basename "$file" >> "$tree/modules/order"
        done
    done
    (cd "$tree" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.partial"
    mv "$INITRD.partial" "$INITRD"
    rm -rf "$tree"
}

# ------------------------------------------------------------------ one run
# KVM here may be kvm-pvm, which runs only PVM-aware kernels: a stock one
# crawls and dies. Elsewhere KVM is what makes the guest fast.
choose_accelerator() {
    local accel=${BERTH_V2GUEST_ACCEL:-auto}
    if [ "$accel" = auto ]; then
        if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then accel=kvm; else accel=tcg; fi
    fi
    case $accel in
        kvm) ACCEL=(-accel kvm -cpu host); ACCEL_CMDLINE= ;;
        # a reliable TSC spares the software CPU the HPET's emulated reads
        tcg) ACCEL=(-accel "tcg,thread=multi" -cpu max); ACCEL_CMDLINE=tsc=reliable ;;
        *) fail "BERTH_V2GUEST_ACCEL must be auto, kvm or tcg, not '$accel'" ;;
    esac
}

# The exchange dir, shared read-write: what stage2.sh runs and the status it leaves.
write_exchange() {
    local xchg=$1 name
    cp "$HERE/stage2.sh" "$xchg/stage2.sh"
    printf 'KV=%q\nKDIR=%q\n' "$KV" "$KDIR" > "$xchg/kernel"
    case $PWD/ in
        /tmp/*|/run/*|/dev/shm/*) covered_by_share "$PWD" || SHARES+=("ro $PWD") ;;
    esac
    # parents before children: fewest slashes first
    printf '%s\n' "${SHARES[@]}" | awk 'NF {print gsub("/", "/"), $0}' | sort -s -n -k1,1 | cut -d' ' -f2- \
        > "$xchg/shares"
    {
        printf 'cd -- %q || exit 125\n' "$PWD"
        while IFS= read -r name; do
            case $name in
                BASH*|SHELLOPTS|SHLVL|PWD|OLDPWD|_|HOSTNAME|TERM|BERTH_V2GUEST_*) ;;
                *) printf 'export %s=%q\n' "$name" "${!name}" ;;
            esac
        done < <(compgen -e)
        printf 'exec'; printf ' %q' "${COMMAND[@]}"; printf '\n'
    } > "$xchg/command"
}

covered_by_share() {
    local line
    for line in "${SHARES[@]}"; do
        case $line in rw*|ro*) case $1/ in "${line#* }"/*) return 0 ;; esac ;; esac
    done
    return 1
}

QEMU_PID='' RELAY_PID='' RUN_DIR=''
# shellcheck disable=SC2317  # run by the EXIT trap
clean_up() {
    [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"
    return 0
}

boot_and_wait() {
    local xchg=$RUN_DIR/xchg share_args=() i=0 path
    share_args+=(-fsdev "local,id=host,path=/,readonly=on,security_model=passthrough,multidevs=remap"
                 -device "virtio-9p-pci,fsdev=host,mount_tag=host"
                 -fsdev "local,id=xchg,path=$xchg,security_model=passthrough"
                 -device "virtio-9p-pci,fsdev=xchg,mount_tag=xchg")
    for path in "${RW_PATHS[@]}"; do
        share_args+=(-fsdev "local,id=rw$i,path=${path//,/,,},security_model=passthrough,multidevs=remap"
                     -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
        i=$((i + 1))
    done
    mkfifo "$RUN_DIR/stderr"
    cat "$RUN_DIR/stderr" >&2 & RELAY_PID=$!
    # ttyS0: the kernel's console, to a file; ttyS1: CMD's stdout; ttyS2: its stderr
    set +e
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 "${ACCEL[@]}" -smp "$CPUS" -m "$MEM" \
        -nodefaults -no-user-config -display none -monitor none -no-reboot \
        -kernel "$KERNEL" -initrd "$INITRD" \
        -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init cgroup_no_v1=all $ACCEL_CMDLINE" \
        "${share_args[@]}" \
        -chardev "file,id=console,path=$RUN_DIR/console" -serial chardev:console \
        -chardev stdio,id=out,signal=off -serial chardev:out \
        -chardev "file,id=err,path=$RUN_DIR/stderr" -serial chardev:err \
        </dev/null & QEMU_PID=$!
    wait "$QEMU_PID"; QEMU_STATUS=$?
    set -e
    QEMU_PID=
    wait "$RELAY_PID" 2>/dev/null || true
    RELAY_PID=
}

report_status() {
    [ "${BERTH_V2GUEST_CONSOLE:-0}" = 1 ] && { echo "--- guest kernel log" >&2; cat "$RUN_DIR/console" >&2; }
    if [ -s "$RUN_DIR/xchg/status" ]; then
        return "$(cat "$RUN_DIR/xchg/status")"
    fi
    if [ "$QEMU_STATUS" = 124 ] || [ "$QEMU_STATUS" = 137 ]; then
        echo "v2guest: the guest did not finish within ${TIMEOUT}s (BERTH_V2GUEST_TIMEOUT)" >&2; return 124
    fi
    echo "v2guest: the guest reported no status (qemu exit $QEMU_STATUS); its kernel log ends:" >&2
    tail -n 30 "$RUN_DIR/console" >&2
    return 125
}

main() {
    parse_args "$@"
    [ "$(id -u)" = 0 ] || fail "needs root (9p of '/' as is, and cgroups inside)"
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.lock"
    flock 8   # two first runs must not fetch or build at once
    install_missing_packages
    unpack_kernel
    build_initrd
    exec 8>&-
    [ "$PREPARE_ONLY" = 1 ] && exit 0
    choose_accelerator
    trap clean_up EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-v2guest.XXXXXX")
    mkdir "$RUN_DIR/xchg"
    write_exchange "$RUN_DIR/xchg"
    boot_and_wait
    local status=0
    report_status || status=$?
    exit "$status"
}

main "$@"
