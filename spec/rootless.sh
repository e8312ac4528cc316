#!/usr/bin/env bash
# spec/rootless.sh — runs one spec file as the unprivileged user mjtest: the rootless lane.
#
#   spec/rootless.sh MOONJAIL_BINARY SPEC_FILE        (from the source root, as root)
#
# Creates mjtest if missing, copies the binary (and moonjail.so and moonjail-net beside it, when there are) and
# the source tree's spec/, scripts/, policies/ and examples/ into a fresh temp dir that mjtest owns
# (the clone may live under /root, which mjtest cannot read), runs
# `moonjail script spec/run.lua SPEC_FILE` there as mjtest with a clean environment, and removes
# the temp dir.  The spec's exit status is ours.  Exits 77 (skipped) with the reason when not run
# as root or when unprivileged user namespaces are unavailable.
set -euo pipefail

skip() {
  echo "SKIP: $*"
  exit 77
}

if [ $# -ne 2 ]; then
  echo "usage: $0 MOONJAIL_BINARY SPEC_FILE" >&2
  exit 2
fi
bin=$(readlink -f "$1")
spec=$2
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user=mjtest

[ "$(id -u)" -eq 0 ] || skip "the rootless lane needs root to switch to the user $user"
[ -x "$bin" ] || { echo "rootless.sh: $bin is not an executable" >&2; exit 2; }
[ -f "$src/$spec" ] || { echo "rootless.sh: no spec $src/$spec" >&2; exit 2; }

if [ -r /proc/sys/kernel/unprivileged_userns_clone ] &&
   [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ]; then
  skip "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)"
fi
if [ -r /proc/sys/user/max_user_namespaces ] &&
   [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
  skip "user namespaces are disabled (user.max_user_namespaces=0)"
fi

# Parallel ctest jobs may race to create the user: serialise on a lock.
mkdir -p /run/lock
(
  flock 9
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$user"
  fi
) 9>/run/lock/moonjail-rootless.lock
home=$(getent passwd "$user" | cut -d: -f6)
[ -d "$home" ] || home=/tmp

runuser -u "$user" -- unshare -U true >/dev/null 2>&1 ||
  skip "the user $user cannot create a user namespace here (unshare -U fails)"

work=$(mktemp -d "${TMPDIR:-/tmp}/moonjail-rootless.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
chmod 0755 "$work"
mkdir -p "$work/tree/build" "$work/run" "$work/tmp"
cp "$bin" "$work/tree/build/moonjail"
[ -f "$(dirname "$bin")/moonjail.so" ] && cp "$(dirname "$bin")/moonjail.so" "$work/tree/build/"
# the network helper, found beside the executable (outbound/filtered sandboxes, published ports)
[ -x "$(dirname "$bin")/moonjail-net" ] && cp "$(dirname "$bin")/moonjail-net" "$work/tree/build/"
# (and the plan printer embed_default_spec compares with the CLI's plan)
if [ -x "$(dirname "$bin")/tests/plan_dump" ]; then
  mkdir -p "$work/tree/build/tests" && cp "$(dirname "$bin")/tests/plan_dump" "$work/tree/build/tests/"
fi
for dir in spec scripts policies examples; do
  [ -d "$src/$dir" ] && cp -R "$src/$dir" "$work/tree/"
done
# (and tests/registry/: the image specs start their registry and build their images with it)
[ -d "$src/tests/registry" ] && mkdir -p "$work/tree/tests" && cp -R "$src/tests/registry" "$work/tree/tests/"
chown -R "$user:" "$work/tree" "$work/run" "$work/tmp"
chmod 0700 "$work/run"

cd "$work/tree"
status=0
runuser -u "$user" -- env -i \
  PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
  HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/sh \
  LANG="${LANG:-C.UTF-8}" TERM="${TERM:-dumb}" ${CI:+CI="$CI"} \
  TMPDIR="$work/tmp" XDG_RUNTIME_DIR="$work/run" \
  MOONJAIL_BIN="$work/tree/build/moonjail" MOONJAIL_BUILD_DIR="$work/tree/build" \
  MOONJAIL_SOURCE_DIR="$work/tree" ${MOONJAIL_SANITIZED:+MOONJAIL_SANITIZED=1} \
  MOONJAIL_ROOTLESS=1 \
  "$work/tree/build/moonjail" script spec/run.lua "$spec" || status=$?
cd /
exit "$status"
