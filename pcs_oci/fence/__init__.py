"""fence_oci: the STONITH agent for OCI compute instances (see fence_oci.py)."""
