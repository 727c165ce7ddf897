# Man pages: render the agents' pages from their meta-data and lint all three.
# Included from the Makefile.
#
#   make man    render ocf_oci_IPaddr2.7 and fence_oci.8 from the agents'
#               meta-data into build/man/ and lint them and pcs-oci.8 (the
#               RPM's %build renders the pages the same way)

PCS_OCI_VERSION ?= $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' pcs_oci/__init__.py)
MAN_OUT ?= build/man
MAN_PAGES = man/pcs-oci.8 $(MAN_OUT)/ocf_oci_IPaddr2.7 $(MAN_OUT)/fence_oci.8

man: venv
	mkdir -p $(MAN_OUT)
	$(VPY) -m pcs_oci.agent meta-data > $(MAN_OUT)/IPaddr2.metadata.xml
	$(VPY) man/ra2man.py --provider oci --package pcs-oci --version $(PCS_OCI_VERSION) \
		$(MAN_OUT)/IPaddr2.metadata.xml > $(MAN_OUT)/ocf_oci_IPaddr2.7
	$(VPY) agents/fence_oci -o metadata > $(MAN_OUT)/fence_oci.metadata.xml
	$(VPY) man/fence2man.py --package pcs-oci --version $(PCS_OCI_VERSION) \
		$(MAN_OUT)/fence_oci.metadata.xml > $(MAN_OUT)/fence_oci.8
	mandoc -T lint $(MAN_PAGES)
	@out=$$(groff -man -ww -z $(MAN_PAGES) 2>&1); [ -z "$$out" ] || { echo "$$out" >&2; exit 1; }
	@echo "man pages: $(MAN_PAGES)"
