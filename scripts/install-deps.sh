#!/bin/sh
# Installs the Debian/Ubuntu packages a profile needs; the one list of them for the README's quick
# start, .ci/run and test/fresh-machine.sh.
#
#   scripts/install-deps.sh demo    what `npm run demo` needs (build for this machine, simulated device)
#   scripts/install-deps.sh test    what `npm test` needs to run every test with no skip
#   scripts/install-deps.sh ci      the test profile and debootstrap (.ci/run's test/fresh-machine.sh)
#   scripts/install-deps.sh bench   the ci profile and a C/C++ toolchain: `npm run bench` (the corpus
#                                   script's debootstrap, HDiffPatch built from the peer kit)
#   scripts/install-deps.sh --list PROFILE   print the profile's packages, install nothing
#
# As root it runs apt-get; otherwise it uses sudo when that works without a question it cannot ask.
# When every package is already installed it does nothing (so a user without root rights can go on).
# When it cannot install, it prints the one command an administrator has to run, and fails.
set -eu

# An entry "a|b" is either package: Ubuntu 24.04 renamed some libraries for its 64-bit time_t
# transition (libssl3 -> libssl3t64), Debian 12 has the first name.
DEMO="binutils e2fsprogs libubootenv-tool"
TEST="$DEMO
  qemu-user-static
  libc6-arm64-cross libstdc++6-arm64-cross binutils-aarch64-linux-gnu
  libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross binutils-arm-linux-gnueabihf
  xdelta3 mender-client mender-artifact
  xz-utils zstd util-linux fdisk mount fuse3 dpkg lintian man-db python3 openssl time
  libarchive13|libarchive13t64 libboost-log1.74.0|libboost-log1.74.0t64
  libboost-thread1.74.0|libboost-thread1.74.0t64 liblmdb0 libssl3|libssl3t64"
# (the last line: the runtime libraries of the Mender 5 client the tests also run against)
CI="$TEST debootstrap"
# (HDiffPatch's build.sh in ../shared/peers needs the compiler and the zlib and bzip2 headers)
BENCH="$CI build-essential zlib1g-dev libbz2-dev"

usage() {
	echo "usage: scripts/install-deps.sh [--list] demo|test|ci|bench" >&2
	exit 2
}

list_only=0
if [ "${1:-}" = "--list" ]; then list_only=1; shift; fi
case "${1:-}" in
demo) entries=$DEMO ;;
test) entries=$TEST ;;
ci) entries=$CI ;;
bench) entries=$BENCH ;;
*) usage ;;
esac

if [ "$list_only" = 1 ]; then
	printf '%s\n' $entries
	exit 0
fi

installed() { dpkg-query -W -f '${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# The entries not installed yet (of "a|b", nothing when either is installed).
missing=""
for entry in $entries; do
	ok=0
	for p in $(echo "$entry" | tr '|' ' '); do installed "$p" && ok=1 && break; done
	[ "$ok" = 1 ] || missing="$missing $entry"
done
if [ -z "$missing" ]; then
	echo "install-deps: every package of profile '$1' is installed"
	exit 0
fi

if [ "$(id -u)" = 0 ]; then
	as_root=""
elif command -v sudo > /dev/null 2>&1 && sudo -n true 2> /dev/null; then
	as_root="sudo"
elif command -v sudo > /dev/null 2>&1 && [ -t 0 ]; then
	as_root="sudo" # sudo asks for the password on the terminal
else
	first=$(echo "$missing" | sed 's/|[^ ]*//g')
	echo "install-deps: cannot install packages as $(id -un): have an administrator run 'sudo apt-get install -y --no-install-recommends$first' (or run $0 $1 as root)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# Of "a|b", the name this release knows.
pkgs=""
for entry in $missing; do
	pick=""
	for p in $(echo "$entry" | tr '|' ' '); do
		if apt-cache show "$p" > /dev/null 2>&1; then pick=$p; break; fi
	done
	pkgs="$pkgs ${pick:-${entry%%|*}}"
done
echo "install-deps: apt-get install$pkgs"
# shellcheck disable=SC2086
$as_root apt-get install -y -q --no-install-recommends $pkgs
