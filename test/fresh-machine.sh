#!/usr/bin/env bash
# Runs the README's quick-start command lines, exactly as written there, as root in a fresh Debian 12
# (bookworm) debootstrap minbase chroot that has only Node.js, npm and git added, and reports the
# time each line took. docs/fresh-machine.md has the output of a run.
#
#   test/fresh-machine.sh [LINE...]     LINE: 1 (install + demo), 2 (install + every test); default: 1 2
#
# Node: Debian 12's nodejs (18) is older than the project needs, so the host's Node install (the
# `node` on PATH and the npm next to it) is copied into the chroot, as a user would install Node.
# git: apt-get install git inside the chroot. The repository is a clone of this one's HEAD (commit
# first: uncommitted changes are not in it). The Node runtimes the build packs come from the npm
# registry as on any machine; apt uses the Debian mirrors of the host's /etc/apt/sources.list*.
# The Mender 5.1.0 client kit (not packaged by Debian) is copied to where the tests look for it,
# ../shared/peers/mender-5.1.0 next to the clone, from $MENDER_UPDATE's kit or this repository's
# ../shared, when there is one.
#
# Before line 1 runs as root, it runs as a user without root rights, where it must fail at once
# with one line saying what an administrator has to run. Each line's output goes to $FRESH_CACHE/line-N.log as well; a line fails when it exits non-zero or
# when a test was skipped. Needs root, debootstrap and a reachable Debian mirror. The minbase tree is made once and kept in
# $FRESH_CACHE (default /var/tmp/mbd-fresh-machine/bookworm-minbase); every run starts from a copy
# of it. Everything the run mounts lives in a private mount namespace, so nothing stays mounted
# after it; the copy is deleted unless KEEP=1.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LINES=("$@")
[ ${#LINES[@]} -gt 0 ] || LINES=(1 2)
SUITE=bookworm
FRESH_CACHE=${FRESH_CACHE:-/var/tmp/mbd-fresh-machine}
BASE=$FRESH_CACHE/$SUITE-minbase

die() { echo "fresh-machine: $*" >&2; exit 1; }
log() { printf '[fresh-machine %(%H:%M:%S)T] %s\n' -1 "$*"; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
command -v debootstrap > /dev/null || die "needs debootstrap (apt-get install debootstrap)"

# The README's quick start: the first two command lines of the first sh block after '## Quick start'.
mapfile -t README_LINES < <(awk '/^## Quick start/{q=1} q&&/^```sh/{b=1;next} b&&/^```/{exit} b&&NF{print}' "$REPO/README.md")
[ ${#README_LINES[@]} = 2 ] || die "README.md's quick start should be two command lines, found ${#README_LINES[@]}"

# The host's Debian mirror (the first deb822 or one-line source for $SUITE).
mirror() {
	local f m
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		m=$(awk -v s="$SUITE" 'BEGIN{RS="";FS="\n"} {u="";ok=0
			for(i=1;i<=NF;i++){ if($i~/^URIs:/){split($i,a,/[ \t]+/);u=a[2]}
			  if($i~/^Suites:/){n=split($i,b,/[ \t]+/);for(j=2;j<=n;j++) if(b[j]==s) ok=1}}
			if(ok&&u!=""){print u;exit}}' "$f")
		[ -n "$m" ] && { echo "$m"; return; }
	done
	awk -v s="$SUITE" '$1=="deb" && $3==s {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2> /dev/null
}

if [ ! -e "$BASE.done" ]; then
	MIRROR=${MIRROR:-$(mirror)}
	[ -n "$MIRROR" ] || die "no $SUITE mirror in /etc/apt/sources.list*; set MIRROR"
	log "debootstrap --variant=minbase $SUITE from $MIRROR (once, into $BASE)"
	rm -rf "$BASE"
	mkdir -p "$FRESH_CACHE"
	debootstrap --variant=minbase "$SUITE" "$BASE" "$MIRROR" > "$FRESH_CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$FRESH_CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $FRESH_CACHE/debootstrap.log)"; }
	touch "$BASE.done"
fi

ROOT=$(mktemp -d "$FRESH_CACHE/run-XXXXXX")
cleanup() { if [ "${KEEP:-0}" = 1 ]; then log "kept $ROOT"; else rm -rf --one-file-system "$ROOT"; fi; }
trap cleanup EXIT
log "fresh root: copy of $BASE in $ROOT"
cp -a "$BASE/." "$ROOT/"

# apt sources as the host has them (only the active files; their keyrings are Debian's own).
rm -f "$ROOT/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && cp "$f" "$ROOT$f"
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# Node and npm: the host's install, copied.
NODE=$(readlink -f "$(command -v node)")
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
install -D -m 0755 "$NODE" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
log "added: node $("$NODE" --version) (host's $NODE), npm $(cd / && npm --version) (host's $NPM_DIR)"

# The network as the host reaches it: a machine behind a TLS-intercepting proxy trusts its CA, so
# when the host's Node does (NODE_EXTRA_CA_CERTS), the chroot's does too; proxy variables pass on.
NET_ENV=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
	install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$ROOT/usr/local/share/ca-certificates/host-network-ca.crt"
	NET_ENV+=(NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-network-ca.crt)
	log "added: the host network's CA for Node (NODE_EXTRA_CA_CERTS)"
fi
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[ -n "${!v:-}" ] && NET_ENV+=("$v=${!v}")
done
export NET_ENV_LIST="${NET_ENV[*]}"

# Runs a command as root inside the chroot, with a clean environment.
in_root() {
	# shellcheck disable=SC2086
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 $NET_ENV_LIST \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -ec "$1"
}

# The Mender 5 client kit: from MENDER_UPDATE (its bin/mender-update), else ../shared next to this repository.
MENDER5_KIT=""
if [ -n "${MENDER_UPDATE:-}" ]; then
	MENDER5_KIT=$(dirname "$(dirname "$(readlink -f "$MENDER_UPDATE")")")
elif [ -x "$REPO/../shared/peers/mender-5.1.0/bin/mender-update" ]; then
	MENDER5_KIT=$(cd "$REPO/../shared/peers/mender-5.1.0" && pwd)
fi
export MENDER5_KIT

# Everything from here on runs in a private mount namespace: its mounts end with it. The root is
# bind-mounted onto itself first: on a machine "/" is a mount point, and `unshare --propagation`
# (the tests' mount namespaces) fails with EINVAL when the chroot's root is not one.
export ROOT REPO
export -f in_root log
unshare --mount --propagation private bash -euo pipefail -c '
	mount --bind "$ROOT" "$ROOT"
	mount -t proc proc "$ROOT/proc"
	mount -t sysfs sysfs "$ROOT/sys"
	mount --rbind /dev "$ROOT/dev"
	mount -t tmpfs tmpfs "$ROOT/run"
	in_root "export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends git >/dev/null"
	log "added: $(in_root "git --version")"
	git clone -q --no-hardlinks "$REPO" "$ROOT/root/mender-binary-delta"
	# The Mender 5 client kit the tests also run against (no Debian package): where the tests look
	# for it by default, ../shared/peers/mender-5.1.0 next to the clone.
	if [ -n "$MENDER5_KIT" ]; then
		mkdir -p "$ROOT/root/shared/peers"
		cp -a "$MENDER5_KIT" "$ROOT/root/shared/peers/mender-5.1.0"
		log "added: the Mender 5.1.0 client kit (from $MENDER5_KIT)"
	fi
	log "repository: $(git -C "$ROOT/root/mender-binary-delta" log -1 --format="%h %s" | cut -c1-100)"
	# A user who may not install packages, with a clone of their own.
	in_root "useradd -m -s /bin/bash user"
	git clone -q --no-hardlinks "$REPO" "$ROOT/home/user/mender-binary-delta"
	in_root "chown -R user:user /home/user/mender-binary-delta"
' || die "setting up the chroot failed"

status=0

# Line 1 as that user (no root, no sudo): it must stop at once with one line saying what to run.
if [[ " ${LINES[*]} " == *" 1 "* ]]; then
	cmd=${README_LINES[0]%%#*}
	log "line 1 as a user who cannot install packages: $cmd"
	rc=0
	msg=$(LINE_CMD=$cmd unshare --mount --propagation private bash -euo pipefail -c '
		mount --bind "$ROOT" "$ROOT"
		mount -t proc proc "$ROOT/proc"
		mount --rbind /dev "$ROOT/dev"
		chroot --userspec=user:user "$ROOT" /usr/bin/env -i HOME=/home/user LANG=C.UTF-8 \
			PATH=/usr/local/bin:/usr/bin:/bin bash -c "cd ~/mender-binary-delta && $LINE_CMD"
	' 2>&1) || rc=$?
	printf '%s\n' "$msg"
	if [ "$rc" = 0 ] || [ "$(printf '%s\n' "$msg" | wc -l)" != 1 ] || [[ "$msg" != "install-deps: cannot install packages as user: have an administrator run 'sudo apt-get install "* ]]; then
		log "line 1 as a user: expected one line naming the command to run and a failure (exit $rc)"
		status=1
	else
		log "line 1 as a user: exit $rc, one line naming what to run"
	fi
fi

for n in "${LINES[@]}"; do
	line=${README_LINES[$((n - 1))]:?no line $n}
	cmd=${line%%#*} # the README's comment is not part of the command
	log "line $n: $cmd (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	start=$(date +%s)
	rc=0
	out=$FRESH_CACHE/line-$n.log
	LINE_CMD=$cmd unshare --mount --propagation private bash -euo pipefail -c '
		mount --bind "$ROOT" "$ROOT"
		mount -t proc proc "$ROOT/proc"
		mount -t sysfs sysfs "$ROOT/sys"
		mount --rbind /dev "$ROOT/dev"
		mount -t tmpfs tmpfs "$ROOT/run"
		in_root "cd /root/mender-binary-delta && $LINE_CMD"
	' 2>&1 | tee "$out" || rc=$?
	log "line $n: exit $rc after $(($(date +%s) - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg) (output: $out)"
	# "Every test with no skip": a skipped test fails the line too.
	skips=$(grep -cE '^SKIPPED:|^ℹ skipped [1-9]' "$out" || true)
	if [ "$skips" != 0 ]; then
		log "line $n: tests were skipped:"
		grep -E '^SKIPPED:|^ℹ skipped' "$out" | sort | uniq -c
		rc=1
	fi
	[ "$rc" = 0 ] || status=1
done
exit $status
