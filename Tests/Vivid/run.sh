#!/usr/bin/env bash
# Runs a test script against the Linux kernel's real `vivid` V4L2 driver in a throw-away QEMU VM.
#
#   Tests/Vivid/run.sh TEST_SCRIPT [PATH...]
#
# TEST_SCRIPT runs as root in busybox sh inside the VM once vivid is loaded and /dev/video0 (its
# webcam-like capture node) exists. Each PATH is copied into the VM at the same absolute path:
# a dynamically linked program together with every library `ldd` lists for it (Swift's runtime
# under /opt/swift included, as ldd follows RUNPATH), any other file or folder as it is. Programs
# are also linked into /usr/local/bin by name, so a test can call `reel` or `v4l2-ctl`.
# Whatever the test writes to /out lands in $OUT_DIR on the host. The exit status is the test
# script's, or 125 when the test could not be run (missing tools, no kernel, VM boot failure,
# timeout, no /out share).
#
# Environment:
#   VIVID_CACHE   kernel cache     (default ${XDG_CACHE_HOME:-$HOME/.cache}/reel-vivid)
#   OUT_DIR       host folder seen as /out in the VM (default $VIVID_CACHE/out, emptied each run)
#   VIVID_PARAMS  vivid module parameters, e.g. "n_devs=1 node_types=0x1"
#   VM_CPUS       guest CPUs (default 1: TCG runs one host thread per guest CPU)
#   VM_MEM        guest memory in MiB (default 2048: the initramfs, ~300 MiB for reel, sits in RAM)
#   VM_TIMEOUT    seconds before the VM is killed (default 300)
#   ACCEL         tcg (default) or kvm
#   KERNEL_PKG    Debian kernel package (default: what linux-image-amd64 depends on)
#   SERIAL_LOG    where the VM's console is saved (default $VIVID_CACHE/serial.log)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 125; }
[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
fail() { echo "vivid: $*" >&2; exit 125; }
[ -f "$1" ] || fail "no test script $1"

TEST=$(realpath "$1"); shift
CACHE=${VIVID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reel-vivid}
VM_CPUS=${VM_CPUS:-1}
VM_MEM=${VM_MEM:-2048}
VM_TIMEOUT=${VM_TIMEOUT:-300}
ACCEL=${ACCEL:-tcg}
LOG=${SERIAL_LOG:-$CACHE/serial.log}
mkdir -p "$CACHE"
if [ -n "${OUT_DIR:-}" ]; then
    mkdir -p "$OUT_DIR"
else
    # Our own default folder is emptied so a stale result can't pass for a new one;
    # a folder the caller names is left as it is.
    OUT_DIR=$CACHE/out
    rm -rf "$OUT_DIR"; mkdir -p "$OUT_DIR"
fi
OUT_DIR=$(realpath "$OUT_DIR")

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
T0=$(now)

# --- 1. host tools -------------------------------------------------------------------------
# busybox-static: the guest has no libc of its own, so its shell and tools must be static.
# kmod: modprobe --show-depends and depmod read the unpacked kernel's modules on the host.
# v4l-utils: v4l2-ctl for tests, and it brings libv4l's plugins that libv4l2 dlopen()s.
# xz-utils: unpacks the kernel image (see below).
packages=(qemu-system-x86 busybox-static v4l-utils cpio kmod xz-utils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=0
apt_update() { [ $apt_updated = 1 ] || { $sudo apt-get update -qq; apt_updated=1; }; }
if [ ${#missing[@]} -gt 0 ]; then
    echo "vivid: installing ${missing[*]}" >&2
    apt_update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        > "$CACHE/apt.log" 2>&1 || { cat "$CACHE/apt.log" >&2; fail "apt-get install failed"; }
fi
PATH=$PATH:/sbin:/usr/sbin   # modprobe and depmod, for users whose PATH lacks sbin
T_TOOLS=$(since "$T0")

# --- 2. kernel, once -----------------------------------------------------------------------
# Debian's stock kernel has vivid, 9p and virtio as modules. The package is unpacked, never
# installed (no initramfs-tools, no bootloader), and depmod'ed so modprobe can order modules.
T1=$(now)
if [ -z "${KERNEL_PKG:-}" ] && [ -f "$CACHE/kernel-pkg" ]; then
    KERNEL_PKG=$(cat "$CACHE/kernel-pkg")
fi
if [ -z "${KERNEL_PKG:-}" ]; then
    kernel_dep() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'; }
    KERNEL_PKG=$(kernel_dep)
    [ -n "$KERNEL_PKG" ] || { apt_update; KERNEL_PKG=$(kernel_dep); }
    [ -n "$KERNEL_PKG" ] || fail "apt-cache finds no linux-image-amd64"
fi
KVER=${KERNEL_PKG#linux-image-}
KROOT=$CACHE/$KERNEL_PKG
if [ ! -f "$KROOT/ready" ]; then
    echo "vivid: downloading $KERNEL_PKG (once, into $CACHE)" >&2
    dl=$(mktemp -d "$CACHE/download.XXXXXX")
    # An old package list may name a file the mirror no longer has: update and try again.
    (cd "$dl" && { apt-get download -qq "$KERNEL_PKG" 2>/dev/null || { apt_update; apt-get download -qq "$KERNEL_PKG"; }; }) ||
        { rm -rf "$dl"; fail "apt-get download $KERNEL_PKG failed"; }
    dpkg-deb -x "$dl"/*.deb "$dl/root"
    [ -f "$dl/root/boot/vmlinuz-$KVER" ] || { rm -rf "$dl"; fail "$KERNEL_PKG has no boot/vmlinuz-$KVER"; }
    depmod -b "$dl/root" "$KVER"
    # Under TCG the kernel's own decompressor takes ~3.5 s of every boot. Unpacked once here, the
    # ELF vmlinux boots straight through its PVH entry point (-kernel takes it as well).
    # The stream is xz in Debian 12's kernels; for any other, the vmlinuz is booted as it is.
    vmlinuz=$dl/root/boot/vmlinuz-$KVER vmlinux=$dl/root/boot/vmlinux-$KVER
    off=$(LC_ALL=C grep -m1 -obUa $'\xfd7zXZ' "$vmlinuz" | cut -d: -f1 || true)
    off=${off%%$'\n'*}
    if [ -n "$off" ]; then
        tail -c +$((off + 1)) "$vmlinuz" > "$dl/payload"
        xz -dc --single-stream < "$dl/payload" > "$vmlinux" 2>/dev/null || true
    fi
    [ -s "$vmlinux" ] && [ "$(head -c 4 "$vmlinux")" = $'\x7fELF' ] || rm -f "$vmlinux"
    touch "$dl/root/ready"
    rm -rf "$KROOT"
    mv "$dl/root" "$KROOT"   # whole or not at all: an interrupted download leaves no half cache
    rm -rf "$dl"
    [ -f "$CACHE/kernel-pkg" ] || echo "$KERNEL_PKG" > "$CACHE/kernel-pkg"   # later runs skip apt
fi
T_KERNEL=$(since "$T1")

# --- 3. initramfs --------------------------------------------------------------------------
T2=$(now)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/reel-vivid.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
# Debian's merged /usr layout, so /lib/x86_64-linux-gnu/x and /usr/lib/x86_64-linux-gnu/x (both
# appear in ldd output) are one file, and /lib64/ld-linux-x86-64.so.2 is where programs look.
mkdir -p "$R"/{bin,dev,proc,sys,tmp,out,etc,root,usr/bin,usr/sbin,usr/local/bin,usr/lib/modules,usr/lib64}
ln -s usr/lib "$R/lib"
ln -s usr/lib64 "$R/lib64"
ln -s bin "$R/sbin"

# copy_path PATH: to the same absolute path in the VM; for a dynamic ELF, with its libraries.
copied=$WORK/copied
: > "$copied"
copy_one() {
    grep -qxF "$1" "$copied" && return 0
    echo "$1" >> "$copied"
    mkdir -p "$R$(dirname "$1")"
    rm -f "$R$1"              # never write through a busybox link
    cp -L "$1" "$R$1"
}
copy_path() {
    local f
    f=$(realpath -s "$1")
    [ -e "$f" ] || fail "no such file: $1"
    if [ -d "$f" ]; then
        mkdir -p "$R$(dirname "$f")"; cp -a "$f" "$R$(dirname "$f")/"; return 0
    fi
    copy_one "$f"
    # ldd exits non-zero for files that aren't dynamic programs or libraries: those go as they are.
    local libs
    libs=$(ldd "$f" 2>/dev/null) || return 0
    if grep -q 'not found' <<<"$libs"; then
        fail "ldd $f: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ' | paste -sd ';')"
    fi
    # "libx.so => /path (addr)" and the loader's own "/lib64/ld-linux-x86-64.so.2 (addr)" line
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs" |
        while read -r lib; do copy_one "$lib"; done
}

copy_path /bin/busybox   # static from busybox-static; a dynamic one would bring its libc along
for arg in "$@"; do
    copy_path "$arg"
    f=$(realpath -s "$arg")
    if [ -f "$f" ] && [ -x "$f" ]; then ln -sf "$f" "$R/usr/local/bin/$(basename "$f")"; fi
done
# libv4l2 dlopen()s its plugins (libv4l-mplane for multi-planar drivers), which ldd can't see;
# v4l1compat/v4l2convert are the LD_PRELOAD wrappers. Taken whenever the host has them.
if [ -d /usr/lib/x86_64-linux-gnu/libv4l ]; then
    for f in $(find /usr/lib/x86_64-linux-gnu/libv4l -name '*.so'); do copy_path "$f"; done
fi
for a in $(/bin/busybox --list); do
    [ -e "$R/bin/$a" ] || [ -L "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done

# Kernel modules for vivid and for the 9p share, in load order, as modprobe on the host
# computes it from the unpacked kernel (builtin ones print as "builtin" and are skipped).
MODS="vivid 9p 9pnet_virtio virtio_pci"
: > "$R/modules"
for m in $MODS; do
    modprobe -S "$KVER" -d "$KROOT" --show-depends "$m" | awk '$1 == "insmod" { print $2 }' |
        while read -r ko; do
            rel=${ko#"$KROOT"/lib/modules/"$KVER"/}
            grep -qxF "$rel" "$R/modules" && continue
            mkdir -p "$R/usr/lib/modules/$KVER/$(dirname "$rel")"
            # busybox insmod takes plain .ko files only; Debian 12's are plain, later ones may not be
            case $ko in
                *.xz) xz -dc "$ko" > "$R/usr/lib/modules/$KVER/${rel%.xz}"; rel=${rel%.xz} ;;
                *.zst) zstd -qdc "$ko" > "$R/usr/lib/modules/$KVER/${rel%.zst}"; rel=${rel%.zst} ;;
                *) cp "$ko" "$R/usr/lib/modules/$KVER/$rel" ;;
            esac
            echo "$rel" >> "$R/modules"
        done
done
grep -q '/vivid\.ko$' "$R/modules" || fail "modprobe finds no vivid module in $KERNEL_PKG"

# Enough of /etc for glibc and Foundation: a root user, and "localhost" without DNS (a test can
# run `reel serve` and a client in the VM over loopback; the VM has no network card at all).
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$R/etc/hosts"
echo 'hosts: files' > "$R/etc/nsswitch.conf"

cp "$TEST" "$R/test.sh"
chmod 755 "$R/test.sh"
# The test's exit status comes back on the serial console after a marker the test can't forge.
MARK="@@vivid-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
cat > "$R/init" <<INIT
#!/bin/sh
MARK=$MARK
KVER=$KVER
VIVID_PARAMS="${VIVID_PARAMS:-}"
INIT
cat >> "$R/init" <<'INIT'
export PATH=/usr/local/bin:/bin:/usr/bin HOME=/root SWIFT_BACKTRACE=enable=no
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
echo "$MARK init-at $(cut -d' ' -f1 /proc/uptime)s"
ip link set lo up 2>/dev/null
for m in $(cat /modules); do
    case $m in */vivid.ko) p=$VIVID_PARAMS ;; *) p= ;; esac
    insmod "/lib/modules/$KVER/$m" $p || echo "$MARK insmod-failed $m"
done
i=0
while [ ! -e /dev/video0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -e /dev/video0 ]; then
    echo "$MARK no-video0"
elif ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out; then   # 512000: 6.1 caps it
    echo "$MARK no-out-share"
else
    echo "$MARK test-start-at $(cut -d' ' -f1 /proc/uptime)s"
    # sh, whatever the script's #! line says: busybox's is the only shell here
    (cd /tmp && sh /test.sh) </dev/null
    rc=$?
    echo   # the marker must start a line even when the test's output doesn't end one
    echo "$MARK rc=$rc"
    echo "$MARK test-end-at $(cut -d' ' -f1 /proc/uptime)s"
    sync
    umount /out
fi
poweroff -f
INIT
chmod 755 "$R/init"
# Uncompressed: QEMU just loads the file into guest memory. With reel's ~300 MiB of Swift and
# FFmpeg libraries, gzip -1 made a whole run 24 s instead of 12 s (host gzip, then TCG inflate).
(cd "$R" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) > "$WORK/initrd.cpio"
INITRD_MB=$(du -m "$WORK/initrd.cpio" | cut -f1)
T_INITRD=$(since "$T2")

# --- 4. boot -------------------------------------------------------------------------------
# TCG: /dev/kvm on these machines only boots special kernels, a stock kernel hangs on it.
# -nic none: no guest network; results come back over the 9p share and the serial console.
KERNEL=$KROOT/boot/vmlinux-$KVER
[ -f "$KERNEL" ] || KERNEL=$KROOT/boot/vmlinuz-$KVER
case $ACCEL in
    kvm) accel=(-accel kvm -cpu host) ;;
    tcg) accel=(-accel tcg,thread=multi -cpu max) ;;
    *) fail "ACCEL must be tcg or kvm" ;;
esac
echo "vivid: booting $(basename "$KERNEL") ($ACCEL, $VM_CPUS cpu, initramfs $INITRD_MB MiB), test $TEST" >&2
mkdir -p "$(dirname "$LOG")"
T3=$(now)
set +e
timeout "$VM_TIMEOUT" qemu-system-x86_64 "${accel[@]}" -smp "$VM_CPUS" -m "$VM_MEM" \
    -nodefaults -display none -serial stdio -no-reboot -nic none \
    -kernel "$KERNEL" -initrd "$WORK/initrd.cpio" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
    -virtfs "local,path=${OUT_DIR//,/,,},mount_tag=out,security_model=none,id=out" \
    </dev/null 2>&1 | tr -d '\r' | tee "$LOG"
qemu_rc=${PIPESTATUS[0]}
set -e
T_VM=$(since "$T3")

echo "vivid: tools ${T_TOOLS}s, kernel ${T_KERNEL}s, initramfs ${T_INITRD}s, VM ${T_VM}s, total $(since "$T0")s" >&2
rc=$(sed -n "s/^$MARK rc=\([0-9]*\)\$/\1/p" "$LOG" | tail -1)
if [ -z "$rc" ]; then
    why=$(sed -n "s/^$MARK \(insmod-failed .*\|no-video0\|no-out-share\)\$/\1/p" "$LOG" | paste -sd ' ')
    [ "$qemu_rc" = 124 ] && why="timed out after ${VM_TIMEOUT}s${why:+, $why}"
    fail "the test did not run: ${why:-VM failed to boot (qemu exit $qemu_rc)}; console in $LOG"
fi
echo "vivid: test exit $rc; /out is $OUT_DIR; console in $LOG" >&2
exit "$rc"
