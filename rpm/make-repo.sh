#!/bin/bash
# The yum repository from built RPMs: `make repo` (rpm/rpm.mk) runs this after
# `make rpm EL=N` for each EL major.
#
#   REPO_DIR=dist/repo REPO_URL=https://host/pcs-oci [GPG_KEY_ID=KEY] \
#       rpm/make-repo.sh 9=path/to/pcs-oci-*.el9.noarch.rpm 10=path/to/...el10.noarch.rpm
#
# Writes REPO_DIR/elN/ (the signed RPM and createrepo_c metadata whose
# repomd.xml has a detached armored signature, repomd.xml.asc), the public
# key REPO_DIR/RPM-GPG-KEY-pcs-oci and REPO_DIR/pcs-oci.repo (baseurl
# REPO_URL/el$releasever/, gpgcheck=1, repo_gpgcheck=1). REPO_DIR is built
# aside and then replaces the previous one.
#
# The key: GPG_KEY_ID names the release key in GNUPGHOME (or ~/.gnupg); its
# agent must be able to unlock it. Without GPG_KEY_ID, a throwaway key is
# made in a temporary GNUPGHOME and deleted with it after the run: good for
# tests and trying the repository, never for a release.
set -euo pipefail

: "${REPO_DIR:?REPO_DIR is not set}" "${REPO_URL:?REPO_URL is not set}"
KEY_FILE=RPM-GPG-KEY-pcs-oci

die() {
	echo "make-repo: $*" >&2
	exit 1
}

for tool in gpg rpmsign createrepo_c; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing (make deps installs it; on EL: dnf install gnupg2 rpm-sign createrepo_c)"
done
[ $# -gt 0 ] || die "no RPMs given (EL=path arguments)"
for arg; do
	el=${arg%%=*} rpm=${arg#*=}
	[[ "$el" =~ ^[0-9]+$ && "$arg" == *=* ]] || die "$arg: expected EL=path, e.g. 9=dist/pcs-oci-1.0-1.el9.noarch.rpm"
	[ -f "$rpm" ] || die "$rpm: no such RPM (make rpm EL=$el builds it)"
done
# REPO_DIR is replaced as a whole: never something that is not a repository.
if [ -e "$REPO_DIR" ] && [ ! -f "$REPO_DIR/pcs-oci.repo" ] && [ -n "$(ls -A "$REPO_DIR")" ]; then
	die "$REPO_DIR exists and is not a pcs-oci repository (no pcs-oci.repo): choose another REPO_DIR"
fi

stage="" throwaway=""
cleanup() {
	[ -z "$stage" ] || rm -rf "$stage"
	if [ -n "$throwaway" ]; then
		gpgconf --kill gpg-agent 2>/dev/null || true
		rm -rf "$throwaway"
	fi
}
trap cleanup EXIT

if [ -z "${GPG_KEY_ID:-}" ]; then
	throwaway=$(mktemp -d)
	export GNUPGHOME=$throwaway
	gpg --batch --quiet --passphrase '' \
		--quick-gen-key "pcs-oci throwaway key <pcs-oci@throwaway.invalid>" rsa3072 sign never 2>/dev/null
	GPG_KEY_ID=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" {print $10; exit}')
	echo "make-repo: signing with a throwaway key ($GPG_KEY_ID), made for this run and deleted after it;" \
		"a release sets GPG_KEY_ID (and GNUPGHOME) to the release key" >&2
fi
gpg --batch --list-secret-keys "$GPG_KEY_ID" >/dev/null 2>&1 ||
	die "no secret key '$GPG_KEY_ID' in ${GNUPGHOME:-~/.gnupg}: set GNUPGHOME to the keyring that holds it"

# Debian's rpm names /usr/bin/gpg2 and no digest; EL's rpm has gpg and sha256.
sign_defines=(--define "__gpg $(command -v gpg)" --define "_gpg_digest_algo sha256"
	--define "_gpg_name $GPG_KEY_ID" --define "_gpg_sign_cmd_extra_args --batch")
if [ -n "${GNUPGHOME:-}" ]; then
	sign_defines+=(--define "_gpg_path $GNUPGHOME")
fi

mkdir -p "$(dirname "$REPO_DIR")"
stage=$(mktemp -d "$REPO_DIR.new.XXXXXX")

for arg; do
	el=${arg%%=*} rpm=${arg#*=}
	dir=$stage/el$el
	mkdir -p "$dir"
	cp "$rpm" "$dir/"
	# Packages first: the metadata records their checksums, signature included.
	rpmsign --addsign "${sign_defines[@]}" "$dir/$(basename "$rpm")" </dev/null >/dev/null 2>"$stage/rpmsign.log" ||
		die "rpmsign failed: $(grep -v GPG_TTY "$stage/rpmsign.log")"
	createrepo_c --quiet --general-compress-type=gz --checksum=sha256 "$dir"
	gpg --batch --yes --local-user "$GPG_KEY_ID" --armor --detach-sign "$dir/repodata/repomd.xml"
done
rm -f "$stage/rpmsign.log"
gpg --batch --armor --export "$GPG_KEY_ID" >"$stage/$KEY_FILE"

url=${REPO_URL%/}
cat >"$stage/pcs-oci.repo" <<EOF
# pcs-oci: Pacemaker virtual IPs that move on Oracle Cloud Infrastructure.
# Copy to /etc/yum.repos.d/ on each node; \$releasever (9, 10) picks el9/ or el10/.
[pcs-oci]
name=pcs-oci for Enterprise Linux \$releasever
baseurl=$url/el\$releasever/
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=$url/$KEY_FILE
EOF
chmod 0755 "$stage"

rm -rf "$REPO_DIR"
mv "$stage" "$REPO_DIR"
echo "repository: $REPO_DIR ($(cd "$REPO_DIR" && echo el*/)), key $GPG_KEY_ID, $REPO_DIR/pcs-oci.repo"
