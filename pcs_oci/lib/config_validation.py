"""What a config document must be: its JSON Schema, then the checks a schema
cannot say (duplicates, address families, network/broadcast addresses).

Both produce ReportItems naming the JSON path of each problem, all at once;
lib/config.py loads documents and raises them in one ConfigError.
"""

import ipaddress
import json
import os
import re
from typing import Any, Dict, List, Sequence, Set

from pcs_oci.common import reports
from pcs_oci.common.reports import ReportItem

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


def _vip_vnic_reports(vip: Dict[str, Any], where: str, hostnames: Set[str]) -> List[ReportItem]:
    """A VIP's vnic_ids name nodes of the config (a typo would leave that node's agent
    on its vnic_id or discovery, silently)."""
    vnic_ids = vip.get("vnic_ids")
    if not isinstance(vnic_ids, dict):
        return []
    return [
        reports.item(
            reports.CONFIG_INVALID_VALUE,
            "{} is not a node of the config".format(_short(name)),
            "use a nodes[].hostname ({})".format(", ".join(sorted(hostnames)) or "none"),
            "{}.vnic_ids".format(where),
        )
        for name in vnic_ids
        if str(name).lower() not in hostnames
    ]


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
    nodes = doc.get("nodes")
    hostnames = {
        str(n.get("hostname")).lower()
        for n in (nodes if isinstance(nodes, list) else [])
        if isinstance(n, dict)
    }
    for index, vip in enumerate(vips if isinstance(vips, list) else []):
        if isinstance(vip, dict):
            found += _vip_reports(vip, "vips[{}]".format(index))
            found += _vip_vnic_reports(vip, "vips[{}]".format(index), hostnames)
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


def validate(doc: Any) -> List[ReportItem]:
    """Every problem in a parsed document, schema first, sorted by path."""
    validator = _schema_validator()
    found = [_schema_report(e) for e in validator.iter_errors(doc)]
    found.sort(key=lambda r: r.where)
    return found + _semantic_reports(doc)
