"""Where the fake Core API and IMDS behave as recorded, not as the reference pages say.

Every default is the behaviour of recorded traffic or, where nothing was
recorded, says so; docs/oci-behaviour.md lists each one with its source.
"CASSETTE" below is oracle/oci-cli's recording of real traffic against
us-phoenix-1 (2018-06-21), services/core/tests/cassettes/secondary_ip_operations.yml
as of oci-cli commit 4691236f (the cassettes were deleted in the next commit,
4c4552d8, "Releasing version 2.5.16"); Lnnn is the line of its `- request:`.

Switch a knob per test with @pytest.mark.fake_fidelity(name=value), on a
running fake with FakeCloud.set_fidelity(name=value) (also over RPC), or for a
standalone server with --fidelity name=value.
"""

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict

EXISTING_ADDRESS_ANSWERS = ("409", "400")
IMDS_IPV6_CIDR_SHAPES = ("string", "list")


@dataclass
class Fidelity:
    # UpdatePrivateIp/UpdateIpv6 that changes vnicId answers 200 without
    # vnicId and with an ETag that the next GET no longer has (CASSETTE L1599
    # answer, L1636 GET): the move lands after the answer. Until it lands the
    # object shows what the answer showed (no vnicId, the answer's ETag); then
    # vnicId is the new VNIC and the ETag changes once more. False: the move
    # is done when the 200 comes back, which OCI never promised.
    async_moves: bool = True
    # Seconds from the answer to the landing. The recording shows only that
    # the GET in the same second already saw the new VNIC.
    move_delay: float = 0.0
    # ListPrivateIps/ListIpv6s: every non-empty page carries opc-next-page,
    # even a one-item answer to ipAddress+subnetId (CASSETTE L1225, L1295,
    # L1395: 15 of 15 non-empty answers), and the page it names is empty and
    # carries none (L1960, L2029, L2098); an empty first page carries none
    # (L1038). False: a token only when more items follow.
    always_next_page: bool = True
    # CreatePrivateIp/CreateIpv6 of an address that already exists in the
    # subnet: "409" (Conflict) or "400" (InvalidParameter, message with
    # "already"). Neither the docs nor any recording we found says which.
    existing_address: str = "409"
    # CreateIpv6 answers lifecycleState PROVISIONING and the Ipv6 becomes
    # AVAILABLE this many seconds later; 0 = AVAILABLE at once. The states
    # are the Ipv6 model's (PROVISIONING, AVAILABLE, TERMINATING,
    # TERMINATED); how long real OCI stays in PROVISIONING is not recorded.
    ipv6_provisioning: float = 0.0
    # IMDS /vnics ipv6SubnetCidrBlock: "string", the subnet's first IPv6
    # prefix as every captured answer has it (cloud-init's test_oracle.py
    # OPC_VM_DUAL_STACK_SECONDARY_VNIC_RESPONSE), or "list", every prefix,
    # a shape no capture shows (a subnet with several prefixes was never
    # captured). ipv6Addresses always lists addresses from every prefix.
    imds_ipv6_cidr: str = "string"

    def update(self, **changes: Any) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError("unknown fidelity knob(s): {}".format(", ".join(sorted(unknown))))
        candidate = Fidelity(**{**asdict(self), **changes})
        candidate.check()
        for name in changes:
            setattr(self, name, getattr(candidate, name))

    def check(self) -> None:
        if self.existing_address not in EXISTING_ADDRESS_ANSWERS:
            raise ValueError(
                "existing_address must be one of " + ", ".join(EXISTING_ADDRESS_ANSWERS)
            )
        if self.imds_ipv6_cidr not in IMDS_IPV6_CIDR_SHAPES:
            raise ValueError("imds_ipv6_cidr must be one of " + ", ".join(IMDS_IPV6_CIDR_SHAPES))
        for name in ("move_delay", "ipv6_provisioning"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError("{} must be a number of seconds >= 0".format(name))
        for name in ("async_moves", "always_next_page"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError("{} must be true or false".format(name))

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def parse_setting(text: str) -> Dict[str, Any]:
    """NAME=VALUE from a command line, VALUE typed like the knob's default."""
    name, sep, raw = text.partition("=")
    defaults = Fidelity().as_dict()
    if not sep or name not in defaults:
        raise ValueError(
            "expected NAME=VALUE with NAME one of {}, got {!r}".format(", ".join(defaults), text)
        )
    default = defaults[name]
    value: Any
    if isinstance(default, bool):
        if raw.lower() not in ("true", "false"):
            raise ValueError("{} takes true or false".format(name))
        value = raw.lower() == "true"
    elif isinstance(default, float):
        value = float(raw)
    else:
        value = raw
    return {name: value}
