# /lib64 for programs built elsewhere whose interpreter is /lib64/ld-linux-x86-64.so.2 (the x86_64
# mender-binary-delta): Yocto's glibc installs the loader in ${base_libdir} only. Read only in builds
# without meta-mender-core, whose lsb-ld recipe of the same name does the same (conf/layer.conf).
SUMMARY = "/lib64 for the x86-64 dynamic loader path of other distributions"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# Nothing to fetch or build: one symbolic link.
INHIBIT_DEFAULT_DEPS = "1"
do_fetch[noexec] = "1"
do_unpack[noexec] = "1"
do_patch[noexec] = "1"
do_configure[noexec] = "1"
do_compile[noexec] = "1"

# Other architectures' loaders are where Yocto puts them: an empty package there.
ALLOW_EMPTY:${PN} = "1"
FILES:${PN}:x86-64 = "/lib64"

# /lib64 -> ./lib (./usr/lib with usrmerge): relative, so it holds in the image and in a sysroot.
# Where base_libdir is /lib64 itself (a multilib build with lib32), the loader is already there and
# nothing is installed.
do_install:x86-64() {
    if [ "${base_libdir}" != "/lib64" ]; then
        ln -s .${base_libdir} ${D}/lib64
    fi
}
