"""Offline fakes of the OCI services pcs-oci talks to (IMDS, federation, Core API).

Real HTTP servers over loopback (or a lab bridge) so the real OCI SDK, with real request
signing, can be exercised without a tenancy. See harness.start_fake_oci and server.main.
"""
