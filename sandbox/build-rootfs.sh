#!/bin/sh
# Builds the sandbox's root filesystem from Debian packages into DIR, for `docker import`.
# No container registry is involved: debootstrap fetches .debs from the Debian mirror.
# Usage: build-rootfs.sh DIR [MIRROR]
set -eu
dir="$1"
mirror="${2:-http://deb.debian.org/debian}"
# A real POSIX tool set: coreutils, findutils, grep, sed (minbase), gawk, and the tools
# plans commonly reach for. python3 (with its standard library) runs the executor.
packages="gawk,python3,jq,file,bc,diffutils,patch,procps,ripgrep,less,tree,git,unzip,zip,xz-utils,bzip2,sqlite3"
command -v debootstrap >/dev/null 2>&1 || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$mirror"
# What a sandbox never needs: package caches, docs, man pages, locales but C.
rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* \
       "$dir"/usr/share/info/* "$dir"/var/log/* "$dir"/usr/share/locale/*
# The unprivileged users the sandbox runs as exist by uid alone; give the common ones a name.
echo "babel:x:1000:1000:babel:/tmp:/bin/sh" >> "$dir/etc/passwd"
echo "babel:x:1000:" >> "$dir/etc/group"
mkdir -p "$dir/workspace" "$dir/opt/babel"
