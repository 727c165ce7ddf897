# Packaging targets: the SRPM and the noarch RPM built from the working tree,
# and what is made from them (each target below says). Included from the Makefile.
#
#   make rpm              SRPM + noarch RPM into dist/, from the working tree
#                         (tracked and untracked files git does not ignore,
#                         so it works before a commit)
#   make rpm EL=9         consistent with EL9: python 3.9 site-packages, .el9,
#                         EL9's dependency names (rpm/pcs-oci.spec says which)
#   make rpm EL=10        the same for EL10: python 3.12, .el10
#   make rpm CHECK=1      also run the unit tests in %check
#   make rpmlint          rpmlint on the spec and the packages `make rpm` built
#   make repo             the yum repository in dist/repo: the RPMs for EL9 and
#                         EL10, signed, with signed createrepo_c metadata, the
#                         public key and pcs-oci.repo (rpm/make-repo.sh). A
#                         release: make repo GPG_KEY_ID=KEY [GNUPGHOME=DIR]
#                         REPO_URL=https://host/path (where dist/repo is
#                         published); without GPG_KEY_ID a throwaway key signs
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

# Each EL major's platform Python: its site-packages is where the package
# installs, and python(abi) = X.Y follows from that path.
EL_PYTHON_9 = 3.9
EL_PYTHON_10 = 3.12

ifeq ($(EL),)
RPM_DIST =
else ifneq ($(EL_PYTHON_$(EL)),)
RPM_DIST = .el$(EL)
RPM_EL_DEFINES = --define "dist .el$(EL)" --define "rhel $(EL)" \
	--define "python3_version $(EL_PYTHON_$(EL))" \
	--define "python3_sitelib /usr/lib/python$(EL_PYTHON_$(EL))/site-packages"
else ifeq ($(EL),8)
$(error EL=8 is not served: pcs-oci needs Python >= 3.9 and OL8's OCI SDK package is python36-oci-sdk for its Python 3.6 (README, "Supported platforms"))
else
$(error EL=$(EL): EL must be 9 or 10)
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

# The yum repository. REPO_BUILD holds the unsigned builds; REPO_URL is
# where REPO_DIR will be served from (pcs-oci.repo's baseurl and gpgkey).
REPO_DIR ?= dist/repo
REPO_BUILD ?= build/repo
REPO_ELS ?= 9 10
REPO_URL ?= file://$(abspath $(REPO_DIR))
GPG_KEY_ID ?=

repo:
	@command -v createrepo_c >/dev/null || { echo "createrepo_c is missing: make deps (apt) or dnf install createrepo_c" >&2; exit 1; }
	rm -rf $(REPO_BUILD)
	mkdir -p $(REPO_BUILD)
	@for el in $(REPO_ELS); do \
		echo "make rpm EL=$$el (log: $(REPO_BUILD)/rpm-el$$el.log)"; \
		$(MAKE) -s --no-print-directory rpm EL=$$el RPM_OUT=$(REPO_BUILD)/el$$el \
			RPM_TOPDIR=$(REPO_BUILD)/rpmbuild-el$$el >$(REPO_BUILD)/rpm-el$$el.log 2>&1 || \
			{ tail -n 30 $(REPO_BUILD)/rpm-el$$el.log >&2; exit 1; }; \
	done
	REPO_DIR="$(REPO_DIR)" REPO_URL="$(REPO_URL)" GPG_KEY_ID="$(GPG_KEY_ID)" rpm/make-repo.sh \
		$(foreach el,$(REPO_ELS),$(el)=$(REPO_BUILD)/el$(el)/pcs-oci-$(PCS_OCI_VERSION)-$(RPM_RELEASE).el$(el).noarch.rpm)

# rpmlint exits non-zero on any error (and on a filter that matches nothing).
rpmlint:
	rpmlint -c rpm/rpmlint.toml rpm/pcs-oci.spec $(RPM_FILE) $(SRPM_FILE)

completion: venv
	$(VENV)/bin/register-python-argcomplete pcs-oci > scripts/pcs-oci.bash-completion
