#!/bin/bash
# fakedpkg.sh stands in for dpkg (apt-get -o Dir::Bin::dpkg=...) so that a
# real apt-get prints its real APT::Status-Fd lines without changing the
# machine: queries go to the real dpkg; --unpack and --configure only
# report on dpkg's status fd what a real dpkg would, and change nothing.
# FAKEDPKG_STATE names a scratch file that remembers unpacked packages.
set -eu
state=${FAKEDPKG_STATE:?set FAKEDPKG_STATE to a scratch file}
fd="" op=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case "${args[$i]}" in
	--status-fd) fd="${args[$((i + 1))]}" ;;
	--unpack | --configure) op="${args[$i]}" ;;
	esac
done
if [ -z "$op" ]; then
	exec /usr/bin/dpkg "$@"
fi
if [ -n "$fd" ] && [ "$op" = --unpack ]; then
	for a in "$@"; do
		case "$a" in
		*.deb)
			p=$(basename "$a")
			p=${p%%_*}
			echo "processing: unpack: $p:amd64" >&"$fd"
			echo "status: $p:amd64: half-installed" >&"$fd"
			echo "status: $p:amd64: unpacked" >&"$fd"
			echo "$p" >>"$state"
			;;
		esac
	done
fi
if [ -n "$fd" ] && [ "$op" = --configure ] && [ -f "$state" ]; then
	while read -r p; do
		echo "processing: configure: $p:amd64" >&"$fd"
		echo "status: $p:amd64: half-configured" >&"$fd"
		echo "status: $p:amd64: installed" >&"$fd"
	done <"$state"
	rm -f "$state"
fi
exit 0
