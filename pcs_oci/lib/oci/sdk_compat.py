"""The instance-principal signer made to behave alike on every supported SDK.

pcs-oci supports the OCI SDK from 2.93.1 (OL9 images) to the latest; the
signer differs between them (docs/oci-behaviour.md, "The Python SDK on
Oracle Linux 9"):

- Before 2.174.0 its IMDS URLs are class attributes: hard-coded to
  169.254.169.254 up to 2.140, read from OCI_METADATA_BASE_URL once at
  import from 2.141.0. 2.93.1 and 2.118.0 also switch those attributes to
  /opc/v1 in one error path. So before every construction we set them to
  our IMDS base (v2): the signer reads the instance we read, and a v1 switch
  never outlives the attempt that made it. From 2.174.0 the signer reads
  OCI_METADATA_BASE_URL at each construction, and nothing is changed.
- Before 2.103.0 it ignores retry_strategy for its IMDS reads and uses the
  module's INSTANCE_METADATA_URL_CERTIFICATE_RETRIEVER_RETRY_STRATEGY (8
  attempts, 600 s): that name is pointed at our strategy.
- From 2.15x to 2.181 its federation client takes the process-wide
  GLOBAL_FEDERATION_CLIENT_CIRCUIT_BREAKER_STRATEGY (3 failures, then
  CircuitBreakerError for 30-49 s) and the signer cannot pass another:
  we replace it after import with a breaker that never opens (our retries
  and time bounds decide). Setting OCI_SDK_AUTH_CLIENT_CIRCUIT_BREAKER_ENABLED
  =false instead would make every signer fail with TypeError on those
  versions, so pcs-oci never does.

All of this changes module state of the SDK in our own process only (an
agent, fence_oci or pcs-oci run), under one lock.
"""

import threading
from typing import Any, Optional

_LOCK = threading.Lock()
# The class attributes older signers build their IMDS requests from.
_URL_ATTRIBUTES = {
    "METADATA_URL_BASE": "",
    "GET_REGION_URL": "/instance/region",
    "LEAF_CERTIFICATE_URL": "/identity/cert.pem",
    "LEAF_CERTIFICATE_PRIVATE_KEY_URL": "/identity/key.pem",
    "INTERMEDIATE_CERTIFICATE_URL": "/identity/intermediate.pem",
}
_IMDS_RETRY_NAME = "INSTANCE_METADATA_URL_CERTIFICATE_RETRIEVER_RETRY_STRATEGY"
_BREAKER_NAME = "GLOBAL_FEDERATION_CLIENT_CIRCUIT_BREAKER_STRATEGY"
# Named, so it is never the SDK's own breaker found again by name.
_NEVER_OPEN_NAME = "pcs-oci-federation-never-open"


def reads_base_url_per_construction(oci: Any) -> bool:
    """True from SDK 2.174.0: the signer reads OCI_METADATA_BASE_URL each time."""
    cls = oci.auth.signers.InstancePrincipalsSecurityTokenSigner
    return hasattr(cls, "_get_env_override_metadata_base_url")


def signer_class(oci: Any, region: Optional[str]) -> Any:
    """The instance-principal signer class to construct. Given the region we
    read from IMDS (canonicalRegionName), one whose instances already have it:
    the constructor then skips its own read of /instance/region (every SDK
    from the floor on asks initialize_and_return_region, which returns a
    region the object has), and its token endpoint comes from the canonical
    name, not from its table's guess at the short code."""
    cls = oci.auth.signers.InstancePrincipalsSecurityTokenSigner
    if not region:
        return cls
    # An instance document without the canonical name gave the short code:
    # map it as the SDK's own read would.
    region = getattr(oci.regions, "REGIONS_SHORT_NAMES", {}).get(region.lower(), region)
    return type(cls.__name__, (cls,), {"region": region, "__module__": __name__})


def prepare_signer(oci: Any, imds_base: str, imds_retry_strategy: Any) -> None:
    """Point this SDK's signer at imds_base (…/opc/v2) with our IMDS retries,
    and keep its federation breaker closed, before a construction."""
    module = oci.auth.signers.instance_principals_security_token_signer
    cls = oci.auth.signers.InstancePrincipalsSecurityTokenSigner
    base = imds_base.rstrip("/")
    with _LOCK:
        if not reads_base_url_per_construction(oci):
            for name, path in _URL_ATTRIBUTES.items():
                setattr(cls, name, base + path)
        if hasattr(module, _IMDS_RETRY_NAME):
            setattr(module, _IMDS_RETRY_NAME, imds_retry_strategy)
        breakers = oci.circuit_breaker
        current = getattr(breakers, _BREAKER_NAME, None)
        if current is not None and getattr(current, "name", None) != _NEVER_OPEN_NAME:
            # Whatever it was: the SDK's default (failure_threshold=3), or the
            # NoCircuitBreakerStrategy that its environment switch sets and
            # its own federation client then rejects.
            setattr(
                breakers,
                _BREAKER_NAME,
                breakers.CircuitBreakerStrategy(failure_threshold=2**31, name=_NEVER_OPEN_NAME),
            )
