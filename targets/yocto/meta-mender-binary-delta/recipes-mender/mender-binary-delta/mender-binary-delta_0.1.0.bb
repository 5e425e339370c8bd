# The Update Module: /usr/share/mender/modules/v3/mender-binary-delta and its configuration
# /etc/mender/mender-binary-delta.conf. Add it to an image with
#   IMAGE_INSTALL:append = " mender-binary-delta"
# The image's rootfs must be read-only (IMAGE_FEATURES += "read-only-rootfs"): a delta applies
# only onto the exact bytes it was made from.
require mender-binary-delta.inc

DESCRIPTION = "Mender Update Module that installs binary-delta rootfs Artifacts on A/B devices"

# Prebuilt for ARMv7 hard-float, AArch64 and x86-64, glibc only.
COMPATIBLE_HOST = "(arm|aarch64|x86_64)-.*linux(-gnu.*)?$"

MBD_PROGRAM = "mender-binary-delta"
MBD_SUB_FOLDER:arm = "arm"
MBD_SUB_FOLDER:aarch64 = "aarch64"
MBD_SUB_FOLDER:x86-64 = "x86_64"

# Partitions for the configuration file: meta-mender-core sets these from MENDER_STORAGE_DEVICE.
MENDER_ROOTFS_PART_A ??= ""
MENDER_ROOTFS_PART_B ??= ""
# The tool that writes the inactive partition ("mender-flash", "ubiupdatevol", ...); empty (the
# default): the module writes the partition itself and the FlashTool key is left out.
MENDER_FLASH_TOOL ??= ""

do_install() {
    for value in "${MENDER_ROOTFS_PART_A}" "${MENDER_ROOTFS_PART_B}"; do
        if [ -z "$value" ]; then
            bbfatal "MENDER_ROOTFS_PART_A and MENDER_ROOTFS_PART_B must be set (meta-mender-core sets them from MENDER_STORAGE_DEVICE; without it set them in local.conf, e.g. MENDER_ROOTFS_PART_A = \"/dev/mmcblk0p2\")."
        fi
    done
    for value in "${MENDER_ROOTFS_PART_A}" "${MENDER_ROOTFS_PART_B}" "${MENDER_FLASH_TOOL}"; do
        case "$value" in
        *'"'* | *'\'*)
            bbfatal "MENDER_ROOTFS_PART_A, MENDER_ROOTFS_PART_B and MENDER_FLASH_TOOL go into ${sysconfdir}/mender/mender-binary-delta.conf as JSON strings: they must not contain quotes or backslashes. Use plain device paths and tool names."
            ;;
        esac
    done

    install -d -m 0755 ${D}${datadir}/mender/modules/v3
    install -m 0755 ${S}/${MBD_SUB_FOLDER}/mender-binary-delta ${D}${datadir}/mender/modules/v3/mender-binary-delta

    install -d -m 0755 ${D}${sysconfdir}/mender
    {
        echo '{'
        if [ -n "${MENDER_FLASH_TOOL}" ]; then
            printf '    "FlashTool": "%s",\n' "${MENDER_FLASH_TOOL}"
        fi
        printf '    "RootfsPartA": "%s",\n' "${MENDER_ROOTFS_PART_A}"
        printf '    "RootfsPartB": "%s"\n' "${MENDER_ROOTFS_PART_B}"
        echo '}'
    } > ${D}${sysconfdir}/mender/mender-binary-delta.conf
    chmod 0644 ${D}${sysconfdir}/mender/mender-binary-delta.conf
}

FILES:${PN} += "${datadir}/mender/modules/v3/mender-binary-delta"
CONFFILES:${PN} = "${sysconfdir}/mender/mender-binary-delta.conf"

# What the Node.js runtime in the binary needs besides glibc (>= 2.28, checked below):
# libstdc++ (GCC >= 5; >= 9 on arm, true of every compatible release) and libatomic on arm.
RDEPENDS:${PN} = "libstdc++"
RDEPENDS:${PN}:append:arm = " libatomic"
# The x86_64 binary's interpreter (PT_INTERP) is /lib64/ld-linux-x86-64.so.2, where every other
# distribution has it; Yocto installs the loader in ${base_libdir} (/lib) and has no /lib64. lsb-ld
# provides /lib64 (meta-mender-core's recipe, as for the original module, or this layer's own in
# builds without meta-mender). The arm and aarch64 binaries ask for /lib/ld-linux-armhf.so.3 and
# /lib/ld-linux-aarch64.so.1, where Yocto's glibc puts them.
RDEPENDS:${PN}:append:x86-64 = " lsb-ld"
RDEPENDS:${PN} += " \
    ${@bb.utils.contains('MENDER_FLASH_TOOL', 'mender-flash', 'mender-flash', '', d)} \
    ${@bb.utils.contains('MENDER_FLASH_TOOL', 'ubiupdatevol', 'mtd-utils-ubifs', '', d)} \
"
INSANE_SKIP:${PN} += "already-stripped"

python __anonymous() {
    # The prebuilt binaries link against glibc >= 2.28; there is no musl build.
    if d.getVar('TCLIBC') not in (None, 'glibc'):
        raise bb.parse.SkipRecipe("mender-binary-delta needs glibc (TCLIBC is '%s')" % d.getVar('TCLIBC'))
    glibc = (d.getVar('GLIBCVERSION') or '').rstrip('%')
    if glibc and bb.utils.vercmp_string(glibc, '2.28') < 0:
        raise bb.parse.SkipRecipe("mender-binary-delta needs glibc >= 2.28 (GLIBCVERSION is %s)" % glibc)
    # The 32-bit ARM binary is for ARMv7 (or later) with hard-float VFPv3. A tune names either the
    # architecture (armv7a, armv7ve, armv8a) or the core: oe-core's Cortex-A tunes (qemuarm's
    # cortexa15, cortexa7, ...) list "cortexa15" and not the architecture; every Cortex-A is ARMv7+.
    if d.getVar('TARGET_ARCH') == 'arm':
        tune = (d.getVar('TUNE_FEATURES') or '').split()
        armv7 = any(t in ('armv7a', 'armv7ve', 'armv8a') or (t.startswith('cortexa') and t[7:8].isdigit()) for t in tune)
        if 'callconvention-hard' not in tune or not armv7:
            raise bb.parse.SkipRecipe("mender-binary-delta for arm needs an ARMv7 hard-float tune (TUNE_FEATURES: %s)" % ' '.join(tune))
}
