# shellcheck shell=bash
# scripts/lib/pi-boot-files.sh: the Raspberry Pi boot files, shared by scripts/build-image
# (the SD card's FAT partition) and scripts/netboot-server (the TFTP tree), so that both
# serve the same firmware build with the same config.txt.
#
# Owns: finding or building the raspi kernel image (pi_kernel), fetching Debian's
# raspi-firmware blobs (pi_blobs), and writing the generated files (pi_boot_files).
# Must not: know about disk images or TFTP; callers decide where the files go.
# Callers define die MESSAGE (prints and exits).

PI_LIB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PI_LIB_ROOT=$(cd "$PI_LIB_SCRIPTS/.." && pwd)
# Where config.txt loads the kernel and the connection file (initramfs): the image,
# with its .bss and boot stack, must end below the latter (pi_kernel checks).
PI_KERNEL_ADDRESS=$((0x80000))
PI_INITRAMFS_ADDRESS=$((0x2000000))
# PI_DEBUG=1: config.txt also makes the GPU firmware talk (scripts/build-image --debug).
PI_DEBUG=${PI_DEBUG:-0}

# pi_kernel [FILE]: print the raw arm64 image to install as barespice.img: FILE, or a
# fresh scripts/build-firmware --board raspi build. Dies when it lacks the Image header.
pi_kernel() {
  local kernel=${1:-} magic
  if [ -z "$kernel" ]; then
    # build-firmware prints the image's path (relative to the repository) last.
    kernel=$("$PI_LIB_SCRIPTS/build-firmware" --board raspi | tail -n 1) \
      || die "scripts/build-firmware --board raspi failed; pass --kernel FILE instead"
    case "$kernel" in /*) ;; *) kernel="$PI_LIB_ROOT/$kernel" ;; esac
  fi
  [ -f "$kernel" ] || die "kernel image not found: $kernel"
  # An arm64 Image header carries the magic "ARM\x64" at byte 56. The GPU firmware does not
  # need it, but QEMU and U-Boot's booti do, and a missing one usually means an ELF was
  # passed where the objcopy'd raw image belongs.
  magic=$(od -An -tx1 -j56 -N4 "$kernel" | tr -d ' \n')
  [ "$magic" = "41524d64" ] || die "$kernel has no arm64 Image header (magic at 56); pass the raw image, not the ELF"
  # The header's image_size (byte 16, little endian) covers .bss and the boot stack.
  local size end
  size=$(od -An -tu8 -j16 -N8 --endian=little "$kernel" | tr -d ' \n')
  end=$((PI_KERNEL_ADDRESS + size))
  [ "$end" -le "$PI_INITRAMFS_ADDRESS" ] || die "$(printf '%s ends at 0x%x in RAM (image_size %d), past the initramfs at 0x%x: the connection file would be overwritten' "$kernel" "$end" "$size" "$PI_INITRAMFS_ADDRESS")"
  printf '%s\n' "$kernel"
}

# pi_blobs: make sure Debian's raspi-firmware package is unpacked under
# .cache/raspi-firmware; sets PI_BLOBS (the directory with bootcode.bin, start*.elf,
# fixup*.dat) and PI_BLOBS_COPYING (the package's copyright file).
pi_blobs() {
  local cache="$PI_LIB_ROOT/.cache/raspi-firmware" deb
  PI_BLOBS="$cache/x/usr/lib/raspi-firmware"
  PI_BLOBS_COPYING="$cache/x/usr/share/doc/raspi-firmware/copyright"
  if [ ! -f "$PI_BLOBS/bootcode.bin" ]; then
    mkdir -p "$cache"
    # apt's _apt user must be able to write the download directory.
    chmod 0777 "$cache" 2>/dev/null || true
    (cd "$cache" && apt-get download -q raspi-firmware) \
      || die "apt-get download raspi-firmware failed (is the non-free-firmware source set up? run scripts/setup)"
    deb=$(ls -1 "$cache"/raspi-firmware_*_all.deb | sort -V | tail -1)
    rm -rf "$cache/x"
    dpkg-deb -x "$deb" "$cache/x"
  fi
  [ -f "$PI_BLOBS/bootcode.bin" ] || die "raspi-firmware unpacked without bootcode.bin"
}

write_config_txt() {
  cat <<'EOF'
# barespice: configuration read by the Raspberry Pi GPU firmware (start*.elf) at power-on.
# One image serves the Pi 3 (start.elf), the Pi 4 (start4.elf) and the Pi 5 (its EEPROM
# bootloader); all read this file.
[all]
# Start the ARM cores in AArch64 and load our raw image (it carries an arm64 Image
# header) at 0x80000, where the linker placed it. Without kernel_address newer
# firmware would load 64-bit kernels at 0x200000.
arm_64bit=1
kernel=barespice.img
kernel_address=0x80000
# The connection settings: the firmware copies barespice.vv to 32 MiB and reports
# where in the device tree's /chosen linux,initrd-start/-end. Not `followkernel`:
# that puts it right after the file's last byte, inside the image's .bss and stack,
# which the entry code clears.
initramfs barespice.vv 0x2000000
# PL011 on GPIO14/15 (the header's TXD/RXD pins, 115200 8N1) carries the defmt log.
# The board code switches GPIO14/15 to ALT0 itself and takes the UART clock from the
# mailbox, so Bluetooth needs no overlay and enable_uart is not set: on a Pi 3 it would
# pin the core clock to 250 MHz for the mini UART, which barespice does not use.
# (scripts/build-image --debug sets it, for the firmware's own boot messages.)
# Framebuffer: no mode is forced here. barespice asks the mailbox for its own mode:
# resolution= in barespice.vv if set, else the monitor's preferred mode from its EDID
# (else 1920x1080), at 32 bits per pixel, and uses the pitch the firmware returns.
# Force HDMI on so a late-powered monitor works.
framebuffer_depth=32
framebuffer_ignore_alpha=1
disable_overscan=1
hdmi_force_hotplug=1
disable_splash=1
# The client needs little GPU memory: no 3D, no video decoder.
gpu_mem=64

# Our minimal device trees (the firmware fills in memory, command line, initramfs).
[pi3]
device_tree=barespice-pi3.dtb
[pi02]
device_tree=barespice-pi3.dtb
[pi4]
device_tree=barespice-pi4.dtb
# Pi 5 (base support, not yet run on hardware): its EEPROM bootloader reads this file
# itself (no start*.elf) and takes kernel=barespice.img from [all] instead of
# kernel_2712.img. We ship no BCM2712 device tree, and os_check (on by default) would
# refuse to boot a kernel without one for the board: os_check=0 skips that check.
# barespice then tells the Pi 5 by the firmware's tree or, without one, by its
# Cortex-A76. enable_uart=1 has the bootloader set up uart10 (the 3-pin debug
# connector, 115200 8N1), which carries the defmt log; Ethernet and USB sit behind RP1,
# a later step.
[pi5]
os_check=0
enable_uart=1
[all]
EOF
  if [ "$PI_DEBUG" = 1 ]; then
    cat <<'EOF'
# --debug: the GPU firmware reports its boot (bootcode/start*.elf messages on the UART,
# device-tree patching details) before barespice starts.
enable_uart=1
uart_2ndstage=1
dtdebug=1
EOF
  fi
}

write_cmdline_txt() {
  # The firmware puts this in the device tree's /chosen bootargs. barespice reads
  # `spice.KEY=VALUE` words (the .vv keys, e.g. spice.host=..., spice.resolution=1280x720),
  # which override barespice.vv, and ignores every other word.
  printf '%s\n' "console=serial0,115200"
}

write_sample_vv() {
  cat <<'EOF'
# barespice connection file, in virt-viewer's .vv format (a key file: "#" starts a
# comment, one key=value per line). Edit it on any computer: this is the FAT partition
# of the SD card. A .vv downloaded from Proxmox or oVirt may replace it as is (keys
# barespice does not use are ignored). Keys in cmdline.txt written as spice.KEY=VALUE
# override the ones here.
[virt-viewer]
# Only SPICE is supported.
type=spice
# The SPICE server: an IPv4 address or a DNS name (resolved through the DHCP-given DNS).
host=192.168.1.10
# Plain TCP port of the server (QEMU: -spice port=5900).
port=5900
# TLS port (QEMU: -spice tls-port=5901).
#tls-port=5901
# The ticket (QEMU: password-secret=...). Leave it out for servers without a password.
#password=
# Name shown on the status screen.
title=barespice
# barespice's own keys: the local display mode asked from the GPU firmware (default:
# the monitor's preferred mode), the longest wait between reconnection attempts in
# seconds, and how the remote desktop fills the screen: resize (default: the guest's
# agent is asked for the local size; scaled to fit without an agent), fit (scaled,
# aspect ratio kept) or 1:1 (centred, unscaled). cmdline.txt: barespice.display=fit.
#resolution=1280x720
#reconnect-max=30
#x-barespice-display=resize
EOF
}

# pi_boot_files DIR KERNEL [VV]: write the generated boot files into DIR: config.txt,
# cmdline.txt, barespice.img (KERNEL), barespice.vv (VV, else the commented sample),
# barespice-pi3.dtb, barespice-pi4.dtb and COPYING.raspi-firmware (needs pi_blobs).
# Their times are fixed (SOURCE_DATE_EPOCH, else the last commit) so rebuilds of the
# same inputs are byte-identical. The blobs themselves are not copied.
pi_boot_files() {
  local dir=$1 kernel=$2 vv=${3:-} epoch f
  write_config_txt >"$dir/config.txt"
  write_cmdline_txt >"$dir/cmdline.txt"
  if [ -n "$vv" ]; then
    [ -f "$vv" ] || die "--vv file not found: $vv"
    cp "$vv" "$dir/barespice.vv"
  else
    write_sample_vv >"$dir/barespice.vv"
  fi
  cp "$kernel" "$dir/barespice.img"
  cp "$PI_BLOBS_COPYING" "$dir/COPYING.raspi-firmware"
  "$PI_LIB_SCRIPTS/make-rpi-dtb" "$dir" >/dev/null
  epoch=${SOURCE_DATE_EPOCH:-$(git -C "$PI_LIB_ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}
  export SOURCE_DATE_EPOCH=$epoch
  for f in config.txt cmdline.txt barespice.vv barespice.img COPYING.raspi-firmware \
           barespice-pi3.dtb barespice-pi4.dtb; do
    touch -d "@$epoch" "$dir/$f"
  done
}
