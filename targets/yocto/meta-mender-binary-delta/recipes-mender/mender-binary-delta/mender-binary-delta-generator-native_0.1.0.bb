# The generator for the build host, in the native sysroot. Run it from a build directory:
#   bitbake mender-binary-delta-generator-native -c addto_recipe_sysroot
#   oe-run-native mender-binary-delta-generator-native mender-binary-delta-generator \
#       -o delta.mender from.mender to.mender
require mender-binary-delta.inc

DESCRIPTION = "Generates binary-delta Mender Artifacts from two full rootfs Artifacts"

inherit native

# Prebuilt for x86-64 and AArch64 build hosts.
COMPATIBLE_HOST = "(aarch64|x86_64)-.*linux(-gnu.*)?$"

MBD_PROGRAM = "mender-binary-delta-generator"
MBD_SUB_FOLDER = "${BUILD_ARCH}"

do_install() {
    install -d -m 0755 ${D}${bindir}
    install -m 0755 ${S}/${MBD_SUB_FOLDER}/mender-binary-delta-generator ${D}${bindir}/mender-binary-delta-generator
}
