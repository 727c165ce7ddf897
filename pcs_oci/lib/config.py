"""The pcs-oci configuration file: load, validate (every problem at once), write.

The JSON Schema (package data, draft-07 so EL9's jsonschema 3.2 reads it)
checks the shape and lib/config_validation.py what a schema cannot say; `load`
raises every problem they find in one ConfigError.
"""

import ipaddress
import json
import os
import tempfile
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.lib.config_validation import validate
from pcs_oci.lib.errors import ConfigError, PcsOciError
from pcs_oci.lib.oci.settings import OciSettings

# A real config is a few KiB; refuse to parse something huge by mistake.
MAX_CONFIG_BYTES = 1024 * 1024
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class Node(NamedTuple):
    hostname: str
    vnic_id: Optional[str] = None
    # The node's instance, for fence_oci (`configure --fencing`).
    instance_id: Optional[str] = None


class Vip(NamedTuple):
    name: str
    ip: str
    cidr_netmask: Optional[int] = None
    nic: Optional[str] = None
    monitor_interval: str = settings.DEFAULT_MONITOR_INTERVAL
    monitor_api: bool = False
    monitor_api_interval: int = 60
    # configure puts the VIP first in this Pacemaker group (created if absent).
    group: Optional[str] = None
    # hostname -> this VIP's VNIC there, over the node's vnic_id (a VIP in the
    # subnet of a secondary VNIC).
    vnic_ids: Optional[Dict[str, str]] = None

    @property
    def address(self) -> IPAddress:
        return ipaddress.ip_address(self.ip)


class Config(NamedTuple):
    nodes: List[Node]
    vips: List[Vip]
    cluster_name: Optional[str] = None
    resource_stickiness: int = settings.DEFAULT_STICKINESS
    oci: OciSettings = OciSettings()
    path: Optional[str] = None

    def node(self, hostname: str) -> Optional[Node]:
        wanted = hostname.lower()
        for node in self.nodes:
            if node.hostname.lower() == wanted:
                return node
        return None

    def vnic_ids(self, vip: Vip) -> Dict[str, str]:
        """hostname -> the VIP's VNIC on that node, where the config says it."""
        found = {n.hostname: n.vnic_id for n in self.nodes if n.vnic_id}
        for hostname, vnic_id in (vip.vnic_ids or {}).items():
            node = self.node(hostname)
            found[node.hostname if node else hostname] = vnic_id
        return found

    def to_dict(self) -> Dict[str, Any]:
        """The effective configuration: defaults filled in, None left out."""
        doc: Dict[str, Any] = {}
        if self.cluster_name is not None:
            doc["cluster_name"] = self.cluster_name
        doc["nodes"] = [_drop_none(n._asdict()) for n in self.nodes]
        doc["vips"] = [_drop_none(v._asdict()) for v in self.vips]
        doc["resource_stickiness"] = self.resource_stickiness
        doc["oci"] = self.oci.to_document()
        return doc


def _drop_none(values: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# ---------------------------------------------------------------- paths


def default_path() -> str:
    return os.environ.get(settings.CONFIG_ENV) or settings.CONFIG_PATH


def resolve_path(path: Optional[str]) -> str:
    return path or default_path()


def parse(text: str, source: str = "<config>") -> Any:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as e:
        raise ConfigError(
            reports.item(
                reports.CONFIG_JSON_SYNTAX,
                "invalid JSON at line {} column {}: {}".format(e.lineno, e.colno, e.msg),
                "fix the syntax; `python3 -m json.tool {}` shows the spot".format(source),
                source,
            )
        ) from None
    except _DuplicateKey as e:
        raise ConfigError(
            reports.item(
                reports.CONFIG_JSON_SYNTAX,
                "key {!r} appears twice in one object".format(e.key),
                "keep one of them",
                source,
            )
        ) from None
    except RecursionError:
        raise ConfigError(
            reports.item(
                reports.CONFIG_JSON_SYNTAX,
                "JSON nested too deeply",
                "a pcs-oci config is at most a few levels deep",
                source,
            )
        ) from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _reject_duplicate_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        hint = (
            "create it with `pcs-oci config init`, or give another file with --config"
            if isinstance(e, FileNotFoundError)
            else "check the path and its permissions"
        )
        raise ConfigError(
            reports.item(
                reports.CONFIG_FILE_UNREADABLE,
                "cannot read the config file: {}".format(e.strerror or e),
                hint,
                path,
            )
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            reports.item(
                reports.CONFIG_FILE_UNREADABLE,
                "the file is larger than {} KiB; this is not a pcs-oci config".format(
                    MAX_CONFIG_BYTES // 1024
                ),
                "check the path",
                path,
            )
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            reports.item(
                reports.CONFIG_FILE_UNREADABLE,
                "not UTF-8 text (byte {} is invalid)".format(e.start),
                "save the file as UTF-8",
                path,
            )
        ) from None
    if "\x00" in text:
        raise ConfigError(
            reports.item(
                reports.CONFIG_FILE_UNREADABLE,
                "the file contains NUL bytes",
                "check the path",
                path,
            )
        )
    return text.lstrip("\ufeff")


def load_document(path: str) -> Any:
    return parse(read_text(path), path)


def from_document(doc: Dict[str, Any], path: Optional[str] = None) -> Config:
    """Build a Config from a document that `validate` accepted."""
    return Config(
        nodes=[Node(n["hostname"], n.get("vnic_id"), n.get("instance_id")) for n in doc["nodes"]],
        vips=[
            Vip(
                name=v["name"],
                ip=str(ipaddress.ip_address(v["ip"])),
                cidr_netmask=v.get("cidr_netmask"),
                nic=v.get("nic"),
                monitor_interval=v.get("monitor_interval", settings.DEFAULT_MONITOR_INTERVAL),
                monitor_api=v.get("monitor_api", False),
                monitor_api_interval=v.get("monitor_api_interval", 60),
                group=v.get("group"),
                vnic_ids=dict(v["vnic_ids"]) if v.get("vnic_ids") else None,
            )
            for v in doc["vips"]
        ],
        cluster_name=doc.get("cluster_name"),
        resource_stickiness=doc.get("resource_stickiness", settings.DEFAULT_STICKINESS),
        oci=OciSettings.from_config(doc.get("oci", {})),
        path=path,
    )


def check_document(doc: Any, source: str) -> Config:
    found = validate(doc)
    if found:
        # Every report names the file once, the JSON path in `where`.
        raise ConfigError(*found)
    return from_document(doc, source)


def load(path: Optional[str] = None) -> Config:
    """Read and validate a config file; raise ConfigError with every problem."""
    path = resolve_path(path)
    return check_document(load_document(path), path)


def dumps(doc: Dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def write_atomic(path: str, text: str, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write through a temporary file in the same directory and rename it over.

    A crash leaves either the old or the new file, never half of one; a
    symlink at `path` is replaced, never written through. The mode is set
    explicitly (whatever the umask) and masked with 0644: a config file is
    never group/world writable or executable, even if the file it replaces was.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.lexists(path):
        raise PcsOciError(
            reports.item(
                reports.CONFIG_FILE_EXISTS,
                "the file already exists",
                "use --force to overwrite it",
                path,
            )
        )
    fd = -1
    tmp = ""
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pcs-oci.", suffix=".tmp", dir=directory)
        os.fchmod(fd, mode & 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = ""
    except OSError as e:
        raise PcsOciError(
            reports.item(
                reports.CONFIG_FILE_WRITE_FAILED,
                "cannot write the config file: {}".format(e.strerror or e),
                "check the directory exists and is writable",
                path,
            )
        ) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
