"""pcs-oci's OCI layer: everything that talks to the OCI API through the SDK.

- settings: OciSettings, the one connection settings type (from the config
  file, the agent's parameters or fence_oci's options; to CIB parameters),
  its checks and the time bounds derived from it;
- errors: the one mapping of SDK and transport failures to CloudErrors,
  with the IAM policy hint;
- sdk: the lazy import of the SDK (importing this package does not load it);
- retry: the SDK retry strategy, bounded in attempts and time;
- auth: API-key configuration and the bounded instance-principal signer;
- api: OciApi, the narrow client the rest of pcs-oci calls.
"""
