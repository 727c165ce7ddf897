# pcs-oci developer entry points. `make check` and `make demo` do all set-up
# on a fresh Debian machine of the project's kind (as root): apt packages,
# then a virtualenv in .venv.

SHELL := /bin/bash
.DEFAULT_GOAL := check

# EL9's platform python is 3.9: test on it where this machine has it.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.9 /root/.pyenv/versions/3.9*/bin/python3.9) $(shell command -v python3))
VENV := .venv
VPY := $(VENV)/bin/python
PYTEST_ARGS ?=

APT_PACKAGES := pacemaker corosync pcs resource-agents pacemaker-cli-utils fence-agents \
	libxml2-utils rpm rpmlint cpio python3-packaging mandoc groff-base man-db iproute2 \
	python3-venv time createrepo-c dnf dnf-plugins-core gnupg iputils-ping debootstrap shellcheck

.PHONY: check check-el10 deps venv agent-venv bench-venv bench bench-completion bench-oci-layer bench-agent lint typecheck vermin test test-unit demo clean install-agent install-fence-agent rpm rpmlint repo completion man soak soak-ci soak-docs \
	sdk-floor-venv el9-libs-venv test-sdk-floor test-el9-libs test-sdk-matrix \
	test-el9-libs-ci test-sdk-matrix-ci

check: deps venv lint typecheck vermin test

# System packages: the real cluster stack, rpmbuild, man page tools. Only
# what is missing is installed; without root the cluster tests skip.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:" $$missing; \
			apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
		else \
			echo "warning: missing system packages (cluster, rpm and man tests will skip):" $$missing >&2; \
		fi; \
	fi

# A pip.conf may list local file:// package indexes that hold only some
# packages: pip then warns "Location 'file:///...' is ignored" once per index
# and requirement, some 100 lines per venv. Each pip run below ends in
# $(QUIET_LOCAL_INDEXES), which drops exactly those lines (pip's other
# output and, with pipefail, its exit status are kept).
PIP_INSTALL = set -o pipefail; $(1) -m pip install -q --disable-pip-version-check
QUIET_LOCAL_INDEXES = 2>&1 | { grep -v "^WARNING: Location 'file://[^']*' is ignored" || true; }

$(VENV)/.installed: requirements-dev.txt setup.py
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(call PIP_INSTALL,$(VPY)) -r requirements-dev.txt $(QUIET_LOCAL_INDEXES)
	$(call PIP_INSTALL,$(VPY)) --no-deps -e . $(QUIET_LOCAL_INDEXES)
	touch $@

venv: $(VENV)/.installed

# The agent inside the lab's cluster runs as Pacemaker runs it, partly as the
# hacluster user (meta-data), who cannot read /root: so it gets the system
# Python (as on EL, where it is /usr/bin/python3) in a venv of its own.
AGENT_VENV := .venv-agent
$(AGENT_VENV)/.installed: requirements-dev.txt setup.py
	test -x $(AGENT_VENV)/bin/python || /usr/bin/python3 -m venv $(AGENT_VENV)
	$(call PIP_INSTALL,$(AGENT_VENV)/bin/python) \
		$$(grep -E '^(oci|jsonschema|pexpect|ptyprocess|pycurl)==' requirements-dev.txt) \
		$(QUIET_LOCAL_INDEXES)
	$(call PIP_INSTALL,$(AGENT_VENV)/bin/python) --no-deps -e . $(QUIET_LOCAL_INDEXES)
	touch $@

agent-venv: $(AGENT_VENV)/.installed

# bench/bench_agent.py compares the agent with what upstream ocf:heartbeat:ocivip
# runs every monitor: the oci CLI from PyPI, in a venv of its own.
OCI_CLI_VERSION := 3.95.1
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	test -x $(BENCH_VENV)/bin/python || /usr/bin/python3 -m venv $(BENCH_VENV)
	$(call PIP_INSTALL,$(BENCH_VENV)/bin/python) oci-cli==$(OCI_CLI_VERSION) $(QUIET_LOCAL_INDEXES)
	touch $@

bench-venv: $(BENCH_VENV)/.installed

# Benchmarks, for a quiet machine (each prints the load it ran under; docs/benchmarks.md):
#   make bench [BENCH_ARGS="-n 5"] [WRITE_DOCS=1]
# WRITE_DOCS=1 rewrites each bench's generated block of docs/benchmarks.md.
BENCH_ARGS ?=
BENCH_DOCS := $(if $(WRITE_DOCS),--write-docs,)

bench: bench-completion bench-oci-layer bench-agent

# One TAB press on pcs-oci against the interpreter floor.
bench-completion: venv
	$(VPY) bench/bench_completion.py $(BENCH_ARGS) $(BENCH_DOCS)

# The agent's start against the fake OCI with latency, without root: calls, imports.
bench-oci-layer: venv
	$(VPY) bench/bench_oci_layer.py $(BENCH_ARGS) $(BENCH_DOCS)

# The agent against heartbeat IPaddr2 and ocivip's oci CLI call, in a lab (root).
bench-agent: deps venv agent-venv bench-venv
	$(VPY) bench/bench_agent.py $(BENCH_ARGS) $(BENCH_DOCS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy pcs_oci

# Nothing newer than EL9's Python 3.9 may slip in.
vermin: venv
	$(VENV)/bin/vermin -q --no-tips --violations --eval-annotations -t=3.9- pcs_oci

test: venv agent-venv bench-venv
	$(VPY) -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(VPY) -m pytest -m "not cluster" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(FLOOR_VENV) $(EL9_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The SDK and library matrix (issue 12): the unit, fake and integration tests
# (never the cluster lab) on Python 3.9 with
#   test-sdk-floor  the oldest OCI SDK pcs-oci supports, other libraries as in
#                   requirements-dev.txt (as far as that SDK's pins allow);
#   test-el9-libs   EL9's own library versions and the SDK floor; no
#                   hypothesis there, so the property tests skip.
# test-sdk-matrix runs both; `make test` is the latest SDK.
PY39 ?= $(firstword $(wildcard /usr/bin/python3.9 /root/.pyenv/versions/3.9*/bin/python3.9))
MATRIX_TESTS ?= tests/unit tests/fakes tests/integration
FLOOR_VENV := .venv-sdk-floor
EL9_VENV := .venv-el9-libs
# Test-only and lint tools the matrix venvs leave out or pin themselves.
_MATRIX_DROP := '^(oci|cryptography|pyOpenSSL|circuitbreaker|ruff|mypy|types-[^=]*|vermin)=='
# Old SDKs hard-code the real IMDS address in the instance-principal signer:
# every Python started from a matrix venv refuses to connect to it
# (tests/tools/imds_guard.py, loaded by a .pth file).
define _matrix_guard
	echo "import sys; '$(CURDIR)' in sys.path or sys.path.append('$(CURDIR)'); import tests.tools.imds_guard as g; g.install()" \
		> $$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/pcs_oci_imds_guard.pth
	$(1)/bin/python -c 'import socket, errno; s = socket.socket(); assert s.connect_ex(("169.254.169.254", 80)) == errno.ENETUNREACH, "IMDS guard not active"'
endef

$(FLOOR_VENV)/.installed: requirements-dev.txt requirements-sdk-floor.txt setup.py tests/tools/imds_guard.py
	@test -n "$(PY39)" || { echo "no python3.9 found (set PY39=/path/to/python3.9)" >&2; exit 1; }
	test -x $(FLOOR_VENV)/bin/python || $(PY39) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		-r <(grep -vE $(_MATRIX_DROP) requirements-dev.txt) -r requirements-sdk-floor.txt
	$(FLOOR_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	$(call _matrix_guard,$(FLOOR_VENV))
	touch $@

$(EL9_VENV)/.installed: requirements-el9-libs.txt setup.py tests/tools/imds_guard.py
	@test -n "$(PY39)" || { echo "no python3.9 found (set PY39=/path/to/python3.9)" >&2; exit 1; }
	test -x $(EL9_VENV)/bin/python || $(PY39) -m venv $(EL9_VENV)
	$(EL9_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-el9-libs.txt
	$(EL9_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	$(call _matrix_guard,$(EL9_VENV))
	touch $@

sdk-floor-venv: $(FLOOR_VENV)/.installed
el9-libs-venv: $(EL9_VENV)/.installed

# agent-venv: test_cib_file has pcs read the agent's meta-data, as hacluster,
# with the interpreter the lab's agent uses.
test-sdk-floor: sdk-floor-venv agent-venv
	$(FLOOR_VENV)/bin/python -m pytest -p no:cacheprovider -m "not cluster" $(MATRIX_TESTS) $(PYTEST_ARGS)

test-el9-libs: el9-libs-venv agent-venv
	$(EL9_VENV)/bin/python -m pytest -p no:cacheprovider -m "not cluster" $(MATRIX_TESTS) $(PYTEST_ARGS)

test-sdk-matrix: test-sdk-floor test-el9-libs

# CI's share of the matrix (issue 12), run next to check-el10: on the SDK
# floor the whole unit, fake and integration suite (`make test-sdk-floor`),
# on EL9's libraries the unit tests. Both at once.
EL9_CI_TESTS ?= tests/unit

test-el9-libs-ci: el9-libs-venv
	$(EL9_VENV)/bin/python -m pytest -p no:cacheprovider -q -m "not cluster" $(EL9_CI_TESTS) $(PYTEST_ARGS)

test-sdk-matrix-ci:
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sdk-floor test-el9-libs-ci

# The EL10 generation (as root): Pacemaker 3.0, pcs 0.12, Python 3.13 in a
# Debian 13 root (built once with debootstrap, cached under /var/tmp), and the
# real-cluster tests and the demo's failover run inside it. See
# tests/lab/el10-root help.
check-el10: deps
	bash tests/lab/el10-root check $(PYTEST_ARGS)

# The main job (as root): a real 2-node Pacemaker cluster in network
# namespaces with fake OCI services; pcs-oci discover, verify and configure a
# VIP, the active node is killed, the failover is narrated; all torn down.
demo: deps venv agent-venv
	$(VPY) -m tests.lab.demo

# The chaos soak (as root): a 3-node cluster with fence_oci, two VIPs, EVENTS
# faults drawn from SEED (default: random, printed), an independent checker
# sampling every 100 ms; build/soak/report.json; non-zero exit on any violation,
# with the command that replays it. SCALE stretches (>1) or shrinks the gaps.
EVENTS ?= 200
SEED ?=
SCALE ?= 1
soak: deps venv agent-venv
	$(VPY) -m tests.soak.run --events $(EVENTS) $(if $(SEED),--seed $(SEED)) --scale $(SCALE)

# CI's short soak: 15 events, the seed from the commit (a failure replays with
# the printed `make soak EVENTS=15 SEED=...`), its own lab name and report.
soak-ci: deps venv agent-venv
	$(VPY) -m tests.soak.run --events 15 --seed-from-commit --name soakci --out build/soak-ci

# docs/soak.md from a 200-event run's report. The report is kept in
# docs/data/soak-report.json (committed: every figure of the page has its raw
# data beside it); without build/soak/report.json the stored one is rendered.
SOAK_REPORT ?= build/soak/report.json
SOAK_STORED := docs/data/soak-report.json
soak-docs: venv
	if [ -f $(SOAK_REPORT) ]; then cp $(SOAK_REPORT) $(SOAK_STORED).tmp && mv $(SOAK_STORED).tmp $(SOAK_STORED); fi
	$(VPY) -m tests.soak.docs $(SOAK_STORED) --notes tests/soak/notes.md > docs/soak.md.tmp
	mv docs/soak.md.tmp docs/soak.md

# Install the agent entry point with the Python that has pcs_oci:
#   make install-agent DESTDIR=/tmp/root AGENT_PYTHON=/usr/bin/python3
AGENT_PYTHON ?= $(abspath $(VPY))
AGENT_DIR ?= $(DESTDIR)/usr/lib/ocf/resource.d/oci
install-agent:
	install -d -m 0755 $(AGENT_DIR)
	sed 's|^PCS_OCI_PYTHON=.*|PCS_OCI_PYTHON=$(AGENT_PYTHON)|' agents/IPaddr2 > $(AGENT_DIR)/IPaddr2.tmp
	chmod 0755 $(AGENT_DIR)/IPaddr2.tmp && mv $(AGENT_DIR)/IPaddr2.tmp $(AGENT_DIR)/IPaddr2

# The fence agent (Pacemaker looks for stonith agents in /usr/sbin), its
# interpreter line set to the Python that has pcs_oci:
#   make install-fence-agent DESTDIR=/tmp/root AGENT_PYTHON=/usr/bin/python3
FENCE_AGENT_DIR ?= $(DESTDIR)/usr/sbin
install-fence-agent:
	install -d -m 0755 $(FENCE_AGENT_DIR)
	sed '1s|^#!.*|#!$(AGENT_PYTHON) -I|' agents/fence_oci > $(FENCE_AGENT_DIR)/fence_oci.tmp
	chmod 0755 $(FENCE_AGENT_DIR)/fence_oci.tmp && mv $(FENCE_AGENT_DIR)/fence_oci.tmp $(FENCE_AGENT_DIR)/fence_oci

# The golden meta-data the tests compare the agent's output with. The agent's
# is made from heartbeat IPaddr2's, recorded from the installed
# resource-agents first, so that the test does not depend on its version.
metadata-update: venv
	OCF_ROOT=/usr/lib/ocf /usr/lib/ocf/resource.d/heartbeat/IPaddr2 meta-data \
		> tests/data/metadata/heartbeat-IPaddr2.xml
	d=$$(mktemp -d) && mkdir -p $$d/resource.d/heartbeat && \
	printf '#!/bin/sh\nexec cat "%s"\n' "$(CURDIR)/tests/data/metadata/heartbeat-IPaddr2.xml" \
		> $$d/resource.d/heartbeat/IPaddr2 && chmod 755 $$d/resource.d/heartbeat/IPaddr2 && \
	OCF_ROOT=$$d $(VPY) -m pcs_oci.agent meta-data > tests/data/metadata/IPaddr2.xml; \
	rc=$$?; rm -rf $$d; exit $$rc
	$(VPY) agents/fence_oci -o metadata > tests/data/metadata/fence_oci.xml

# Packaging: the RPM and bash completion; the man pages.
include rpm/rpm.mk
include man/man.mk
