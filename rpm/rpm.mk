# Packaging targets: the SRPM and the noarch RPM built from the working tree,
# and what is made from them (each target below says). Included from the Makefile.
#
#   make rpm              SRPM + noarch RPM into dist/, from the working tree
#                         (tracked and untracked files git does not ignore,
#                         so it works before a commit)
#   make rpm EL=9         consistent with EL9: python 3.9 site-packages, .el9
#   make rpm CHECK=1      also run the unit tests in %check
#   make rpmlint          rpmlint on the spec and the packages `make rpm` built
#   make completion       regenerate scripts/pcs-oci.bash-completion
#
# Knobs the packaging tests use: RPM_OUT (output directory), RPM_TOPDIR
# (rpmbuild's scratch tree), RPM_RELEASE, RPM_TARBALL (build from this
# source tarball instead of the working tree).
#
# Version comes from pcs_oci.__version__ and is written into the copy of the
# spec that is built (and so into the SRPM); rpm/pcs-oci.spec itself is
# never rewritten.

PCS_OCI_VERSION ?= $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' pcs_oci/__init__.py)
RPM_RELEASE ?= 1
RPM_OUT ?= dist
RPM_TOPDIR ?= build/rpmbuild
RPM_TARBALL ?=
EL ?=
CHECK ?=

RPM_SRCNAME = pcs-oci-$(PCS_OCI_VERSION)
RPM_DEFINES = --define "_topdir $(abspath $(RPM_TOPDIR))" \
	--define "_srcrpmdir $(abspath $(RPM_OUT))" \
	--define "_rpmdir $(abspath $(RPM_OUT))" \
	--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm"

# Debian's rpm (CI): BuildRequires cannot be met from its empty rpm
# database, and its brp-compress needs bash but is run by dash (the man
# pages would stay uncompressed).
ifneq ($(wildcard /etc/debian_version),)
RPM_HOST_DEFINES = --nodeps \
	--define "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}"
RPM_CHECK_PYTHON = --define "check_python $(abspath $(VPY))"
endif

ifeq ($(EL),)
RPM_DIST =
else ifeq ($(EL),9)
RPM_DIST = .el9
RPM_EL_DEFINES = --define "dist .el9" --define "rhel 9" --define "python3_version 3.9" \
	--define "python3_sitelib /usr/lib/python3.9/site-packages"
else
$(error EL=$(EL): only EL=9 is supported here (pcs-oci needs Python >= 3.9))
endif

ifneq ($(CHECK),)
RPM_CHECK_DEFINES = --with check $(RPM_CHECK_PYTHON)
endif

RPM_FILE = $(RPM_OUT)/pcs-oci-$(PCS_OCI_VERSION)-$(RPM_RELEASE)$(RPM_DIST).noarch.rpm
SRPM_FILE = $(RPM_OUT)/pcs-oci-$(PCS_OCI_VERSION)-$(RPM_RELEASE)$(RPM_DIST).src.rpm

rpm:
	@command -v rpmbuild >/dev/null || { echo "rpmbuild is missing: make deps (apt) or dnf install rpm-build" >&2; exit 1; }
	rm -rf $(RPM_TOPDIR)
	mkdir -p $(RPM_TOPDIR)/SOURCES $(RPM_TOPDIR)/SPECS $(RPM_OUT)
ifeq ($(RPM_TARBALL),)
	git ls-files -z --cached --others --exclude-standard | \
		while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done | \
		tar --null -T - --sort=name --owner=0 --group=0 --numeric-owner \
			--transform 's,^,$(RPM_SRCNAME)/,S' -czf $(RPM_TOPDIR)/SOURCES/$(RPM_SRCNAME).tar.gz
else
	cp $(RPM_TARBALL) $(RPM_TOPDIR)/SOURCES/$(RPM_SRCNAME).tar.gz
endif
	sed -e 's/^Version:.*/Version:        $(PCS_OCI_VERSION)/' \
		-e 's/^Release:.*/Release:        $(RPM_RELEASE)%{?dist}/' \
		rpm/pcs-oci.spec > $(RPM_TOPDIR)/SPECS/pcs-oci.spec
	rpmbuild -ba $(RPM_DEFINES) $(RPM_HOST_DEFINES) $(RPM_EL_DEFINES) $(RPM_CHECK_DEFINES) \
		$(RPM_TOPDIR)/SPECS/pcs-oci.spec
	@echo "built: $(SRPM_FILE) $(RPM_FILE)"

# rpmlint exits non-zero on any error (and on a filter that matches nothing).
rpmlint:
	rpmlint -c rpm/rpmlint.toml rpm/pcs-oci.spec $(RPM_FILE) $(SRPM_FILE)

completion: venv
	$(VENV)/bin/register-python-argcomplete pcs-oci > scripts/pcs-oci.bash-completion
