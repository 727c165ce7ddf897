"""The pcs-oci configuration file: load, validate (every problem at once), write.

The JSON Schema (package data, draft-07 so EL9's jsonschema 3.2 reads it)
checks the shape; the checks below it check what a schema cannot say
(duplicates, address families, network/broadcast addresses). Both produce
ReportItems naming the JSON path of the problem, and `load` raises them all
in one ConfigError.
"""

import ipaddress
import json
import os
import re
import tempfile
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem
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


# ---------------------------------------------------------------- schema


def schema() -> Dict[str, Any]:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "schema", "config.schema.json"), encoding="utf-8") as f:
        data: Dict[str, Any] = json.load(f)
    return data


def _schema_validator() -> Any:
    # Imported here: jsonschema costs ~0.1 s, and `pcs-oci --help` or a
    # completion keypress must not pay it.
    import jsonschema

    doc = schema()
    cls = jsonschema.validators.validator_for(doc)
    cls.check_schema(doc)
    return cls(doc)


def json_path(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += "[{}]".format(part)
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _schema_report(error: Any) -> ReportItem:
    where = json_path(list(error.absolute_path))
    sub = error.schema if isinstance(error.schema, dict) else {}
    hint = str(sub.get("x-hint", ""))
    kind = error.validator
    value = error.instance
    if kind == "additionalProperties":
        allowed = sorted(sub.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        return reports.item(
            reports.CONFIG_SCHEMA,
            "unknown key{} {}".format("s" if len(extra) > 1 else "", ", ".join(map(repr, extra))),
            "allowed keys: {}".format(", ".join(allowed)),
            where,
        )
    if kind == "required":
        missing = re.findall(r"'([^']*)' is a required property", error.message)
        name = missing[0] if missing else error.message
        return reports.item(
            reports.CONFIG_SCHEMA, "missing required key '{}'".format(name), hint, where
        )
    if kind == "pattern":
        return reports.item(
            reports.CONFIG_SCHEMA,
            "{} is not {}".format(_short(value), sub.get("x-what", "valid")),
            hint or "must match {}".format(error.validator_value),
            where,
        )
    if kind == "type":
        return reports.item(
            reports.CONFIG_SCHEMA,
            "{} is not {}".format(_short(value), _type_name(error.validator_value)),
            hint,
            where,
        )
    if kind == "enum":
        return reports.item(
            reports.CONFIG_SCHEMA,
            "{} is not one of {}".format(
                _short(value), ", ".join(json.dumps(v) for v in error.validator_value)
            ),
            hint,
            where,
        )
    if kind in ("minItems", "maxItems"):
        word = "at least" if kind == "minItems" else "at most"
        return reports.item(
            reports.CONFIG_SCHEMA,
            "has {} entr{}, needs {} {}".format(
                len(value), "y" if len(value) == 1 else "ies", word, error.validator_value
            ),
            hint,
            where,
        )
    if kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        return reports.item(
            reports.CONFIG_SCHEMA,
            "{} is out of range: must be {} {}".format(_short(value), word, error.validator_value),
            hint,
            where,
        )
    if kind in ("minLength", "maxLength"):
        word = "at least" if kind == "minLength" else "at most"
        return reports.item(
            reports.CONFIG_SCHEMA,
            "{} must be {} {} characters long".format(_short(value), word, error.validator_value),
            hint,
            where,
        )
    return reports.item(reports.CONFIG_SCHEMA, _one_line(error.message), hint, where)


def _type_name(expected: Any) -> str:
    names = {
        "object": "an object",
        "array": "a list",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
    }
    if isinstance(expected, list):
        return " or ".join(names.get(e, str(e)) for e in expected)
    return names.get(expected, str(expected))


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


# ---------------------------------------------------------------- checks beyond the schema


def _semantic_reports(doc: Any) -> List[ReportItem]:
    if not isinstance(doc, dict):
        return []
    found: List[ReportItem] = []
    found += _duplicates(
        doc.get("nodes"), "nodes", "hostname", "host name", key=lambda v: str(v).lower()
    )
    found += _duplicates(doc.get("nodes"), "nodes", "vnic_id", "VNIC")
    found += _duplicates(doc.get("nodes"), "nodes", "instance_id", "instance")
    found += _duplicates(doc.get("vips"), "vips", "name", "VIP name")
    found += _duplicates(doc.get("vips"), "vips", "ip", "VIP address", key=_normalized_ip)
    vips = doc.get("vips")
    for index, vip in enumerate(vips if isinstance(vips, list) else []):
        if isinstance(vip, dict):
            found += _vip_reports(vip, "vips[{}]".format(index))
    found += _group_reports(vips if isinstance(vips, list) else [])
    oci = doc.get("oci")
    if isinstance(oci, dict) and oci.get("auth", "instance_principal") == "instance_principal":
        for key in ("config_file", "profile"):
            if key in oci:
                found.append(
                    reports.item(
                        reports.CONFIG_INVALID_VALUE,
                        '\'{}\' is only used with "auth": "api_key"'.format(key),
                        'remove it, or set "auth": "api_key"',
                        "oci.{}".format(key),
                    )
                )
    return found


def _group_reports(vips: List[Any]) -> List[ReportItem]:
    """A group shares the CIB's id space with the resources: it cannot be named like a VIP."""
    names = {v.get("name") for v in vips if isinstance(v, dict)}
    found = []
    for index, vip in enumerate(vips):
        group = vip.get("group") if isinstance(vip, dict) else None
        if isinstance(group, str) and group in names:
            found.append(
                reports.item(
                    reports.CONFIG_INVALID_VALUE,
                    "group {!r} is also the name of a VIP (Pacemaker ids are unique)".format(group),
                    "name the group after the application, e.g. web",
                    "vips[{}].group".format(index),
                )
            )
    return found


def _normalized_ip(value: Any) -> Any:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return value


def _duplicates(
    entries: Any, list_name: str, key_name: str, what: str, key: Any = None
) -> List[ReportItem]:
    if not isinstance(entries, list):
        return []
    seen: Dict[Any, int] = {}
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or key_name not in entry:
            continue
        value = entry[key_name]
        try:
            norm = key(value) if key else value
            hash(norm)
        except TypeError:
            continue
        if norm in seen:
            found.append(
                reports.item(
                    reports.CONFIG_DUPLICATE,
                    "duplicate {} {} (also in {}[{}])".format(
                        what, _short(value), list_name, seen[norm]
                    ),
                    "each {} must be unique".format(what),
                    "{}[{}].{}".format(list_name, index, key_name),
                )
            )
        else:
            seen[norm] = index
    return found


def _vip_reports(vip: Dict[str, Any], where: str) -> List[ReportItem]:
    raw = vip.get("ip")
    if not isinstance(raw, str):
        return []
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return [
            reports.item(
                reports.CONFIG_INVALID_VALUE,
                "{} is not an IPv4 or IPv6 address".format(_short(raw)),
                "write the VIP as 10.0.0.200 or fd00::200, without a prefix length "
                "(the prefix goes in cidr_netmask)",
                where + ".ip",
            )
        ]
    found: List[ReportItem] = []
    if (
        address.is_loopback
        or address.is_multicast
        or address.is_unspecified
        or (address.is_link_local)
    ):
        found.append(
            reports.item(
                reports.CONFIG_INVALID_VALUE,
                "{} cannot be a VIP (loopback, link-local, multicast or unspecified)".format(raw),
                "use a free address of the VNICs' subnet",
                where + ".ip",
            )
        )
    prefix = vip.get("cidr_netmask")
    if isinstance(prefix, int) and not isinstance(prefix, bool):
        top = address.max_prefixlen
        if not 1 <= prefix <= top:
            found.append(
                reports.item(
                    reports.CONFIG_INVALID_VALUE,
                    "{} is out of range for an IPv{} address".format(prefix, address.version),
                    "use 1..{} (the subnet's prefix length, e.g. 24)".format(top),
                    where + ".cidr_netmask",
                )
            )
        else:
            network = ipaddress.ip_network("{}/{}".format(raw, prefix), strict=False)
            special = []
            if network.num_addresses > 2 or address.version == 6:
                if address == network.network_address:
                    special.append("the network address")
                if address.version == 4 and address == network.broadcast_address:
                    special.append("the broadcast address")
            if special:
                found.append(
                    reports.item(
                        reports.CONFIG_INVALID_VALUE,
                        "{} is {} of {}".format(raw, special[0], network),
                        "choose a host address inside the subnet",
                        where + ".ip",
                    )
                )
    interval = vip.get("monitor_interval")
    if isinstance(interval, str) and re.fullmatch(r"0+[a-z]*", interval):
        found.append(
            reports.item(
                reports.CONFIG_INVALID_VALUE,
                "monitor interval {} disables monitoring".format(_short(interval)),
                "use a positive interval such as 10s",
                where + ".monitor_interval",
            )
        )
    return found


# ---------------------------------------------------------------- public API


def validate(doc: Any) -> List[ReportItem]:
    """Every problem in a parsed document, schema first, sorted by path."""
    validator = _schema_validator()
    found = [_schema_report(e) for e in validator.iter_errors(doc)]
    found.sort(key=lambda r: r.where)
    return found + _semantic_reports(doc)


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
