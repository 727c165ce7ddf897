"""migration.plan: which resource holds each VIP, and its conversion in place (pure XML)."""

from typing import Any, Dict, List, Optional

from pcs_oci.lib import cib, migration
from pcs_oci.lib.commands import configure
from pcs_oci.lib.config import from_document

VNIC1 = "ocid1.vnic.oc1.iad.aaaa"
VNIC2 = "ocid1.vnic.oc1.iad.bbbb"


def config(**vip: Any) -> Any:
    entry: Dict[str, Any] = {"name": "vip", "ip": "10.0.0.200", "cidr_netmask": 24}
    entry.update(vip)
    return from_document(
        {
            "nodes": [
                {"hostname": "node1", "vnic_id": VNIC1},
                {"hostname": "node2", "vnic_id": VNIC2},
            ],
            "vips": [entry],
            "oci": {"auth": "api_key", "endpoint": "http://192.0.2.1:8000"},
        },
        "/etc/pcs-oci/pcs-oci.json",
    )


def primitive(
    rid: str,
    agent: str = "ocf:heartbeat:IPaddr2",
    params: Optional[Dict[str, str]] = None,
    meta: Optional[Dict[str, str]] = None,
    ops: str = '<op id="{0}-monitor" name="monitor" interval="10s"/>'
    '<op id="{0}-start" name="start" interval="0s" timeout="20s"/>',
) -> str:
    cls, provider, kind = agent.split(":")
    if params is None:
        params = {"ip": "10.0.0.200", "cidr_netmask": "24"}
    nv = "".join(
        '<nvpair id="{0}-ia-{1}" name="{1}" value="{2}"/>'.format(rid, k, v)
        for k, v in params.items()
    )
    mv = "".join(
        '<nvpair id="{0}-ma-{1}" name="{1}" value="{2}"/>'.format(rid, k, v)
        for k, v in (meta or {}).items()
    )
    return (
        '<primitive id="{0}" class="{1}" provider="{2}" type="{3}">'
        '<instance_attributes id="{0}-ia">{4}</instance_attributes>'
        "{5}<operations>{6}</operations></primitive>".format(
            rid,
            cls,
            provider,
            kind,
            nv,
            '<meta_attributes id="{}-ma">{}</meta_attributes>'.format(rid, mv) if meta else "",
            ops.format(rid),
        )
    )


def cib_xml(resources: str, constraints: str = "") -> Any:
    return cib.parse(
        '<cib epoch="4" num_updates="2" admin_epoch="0"><configuration><crm_config/><nodes/>'
        "<resources>{}</resources><constraints>{}</constraints></configuration>"
        "<status/></cib>".format(resources, constraints)
    )


def run(root: Any, **vip: Any) -> Any:
    new, conversions = migration.plan(config(**vip), root)
    assert len(conversions) == 1
    return new, conversions[0]


def ids_in_order(element: Any) -> List[str]:
    return [e.get("id") for e in element if e.tag == "primitive"]


GROUP = '<group id="web">{}{}</group>'.format(
    primitive("vip", params={"ip": "10.0.0.200", "cidr_netmask": "24", "arp_count": "3"}),
    primitive("app", "ocf:heartbeat:Dummy", params={}),
)
CONSTRAINTS = (
    '<rsc_location id="loc" rsc="web" node="node1" score="50"/>'
    '<rsc_colocation id="col" rsc="db" with-rsc="vip" score="INFINITY"/>'
)


def test_a_heartbeat_ipaddr2_is_converted_in_place():
    root = cib_xml(GROUP + primitive("db", "ocf:heartbeat:Dummy", params={}), CONSTRAINTS)

    new, done = run(root)

    assert (done.action, done.resource, done.agent_before) == (
        migration.CONVERT,
        "vip",
        "ocf:heartbeat:IPaddr2",
    )
    vip = cib.by_id(new, "vip")
    assert vip is not None
    assert cib.agent(vip) == "ocf:oci:IPaddr2"
    params = cib.nvpairs(vip, "instance_attributes")
    # IPaddr2's own parameters are kept; OCI's come from the config.
    assert params["arp_count"] == "3"
    assert params["vnic_ids"] == "node1={},node2={}".format(VNIC1, VNIC2)
    assert params["auth"] == "api_key"
    assert params["endpoint"] == "http://192.0.2.1:8000"
    assert cib.nvpairs(vip, "meta_attributes") == {
        "resource-stickiness": "100",
        # Two start timeouts (60s with api_key auth).
        "failure-timeout": "120s",
    }
    # Same place in its group; constraints untouched.
    group = cib.by_id(new, "web")
    assert group is not None and ids_in_order(group) == ["vip", "app"]
    assert cib.to_text(cib.section(new, "constraints")) == cib.to_text(
        cib.section(root, "constraints")
    )
    # The original tree is left as it was.
    original = cib.by_id(root, "vip")
    assert original is not None and cib.agent(original) == "ocf:heartbeat:IPaddr2"


def test_op_timeouts_are_raised_never_lowered():
    ops = (
        '<op id="{0}-monitor" name="monitor" interval="10s" timeout="120s"/>'
        '<op id="{0}-start" name="start" interval="0s" timeout="20s"/>'
    )
    new, done = run(cib_xml(primitive("vip", ops=ops)))

    vip = cib.by_id(new, "vip")
    assert vip is not None
    timeouts = {op.get("name"): op.get("timeout") for op in vip.iter("op")}
    # monitor keeps its longer timeout; start gets what the agent needs; stop is added.
    assert timeouts["monitor"] == "120s"
    assert timeouts["start"] == configure.start_timeout(config())
    assert timeouts["stop"] == "20s"
    assert "op stop: (none) -> interval=0s timeout=20s" in done.changes


def test_an_ocivip_and_its_group_companion_become_one_resource():
    group = '<group id="web">{}{}{}</group>'.format(
        primitive("vip_oci", "ocf:heartbeat:ocivip", params={"secondary_private_ip": "10.0.0.200"}),
        primitive("vip"),
        primitive("app", "ocf:heartbeat:Dummy", params={}),
    )
    constraints = (
        '<rsc_location id="loc" rsc="vip_oci" node="node1" score="50"/>'
        '<rsc_order id="ord" first="vip_oci" then="db"/>'
        '<rsc_colocation id="set"><resource_set id="s1"><resource_ref id="vip_oci"/>'
        '<resource_ref id="vip"/></resource_set></rsc_colocation>'
    )
    root = cib_xml(group + primitive("db", "ocf:heartbeat:Dummy", params={}), constraints)

    new, done = run(root)

    assert (done.action, done.resource, done.removed) == (migration.MERGE, "vip", ["vip_oci"])
    assert cib.by_id(new, "vip_oci") is None
    web = cib.by_id(new, "web")
    assert web is not None and ids_in_order(web) == ["vip", "app"]
    location = cib.by_id(new, "loc")
    order = cib.by_id(new, "ord")
    assert location is not None and location.get("rsc") == "vip"
    assert order is not None and order.get("first") == "vip"
    # A set naming both now names the VIP once, and ties it to nothing: removed.
    assert cib.by_id(new, "set") is None


def test_an_ocivip_colocated_with_its_ipaddr2_is_folded_and_the_tie_removed():
    root = cib_xml(
        primitive("vip_oci", "ocf:heartbeat:ocivip", params={"secondary_private_ip": "10.0.0.200"})
        + primitive("vip"),
        '<rsc_colocation id="col" rsc="vip" with-rsc="vip_oci" score="INFINITY"/>'
        '<rsc_order id="ord" first="vip_oci" then="vip"/>',
    )

    new, done = run(root)

    assert done.action == migration.MERGE
    assert list(cib.section(new, "constraints")) == []
    assert "constraint col removed (it tied vip_oci to vip)" in done.changes


def test_a_lone_ocivip_is_converted_in_place():
    root = cib_xml(
        primitive(
            "vip",
            "ocf:heartbeat:ocivip",
            params={"secondary_private_ip": "10.0.0.200", "cidr_netmask": "24", "api_delay": "2"},
        )
    )

    new, done = run(root)

    assert done.action == migration.CONVERT
    vip = cib.by_id(new, "vip")
    assert vip is not None and cib.agent(vip) == "ocf:oci:IPaddr2"
    params = cib.nvpairs(vip, "instance_attributes")
    assert params["ip"] == "10.0.0.200"
    assert "secondary_private_ip" not in params and "api_delay" not in params


def test_ours_already_is_left_alone_and_absent_is_for_configure():
    root = cib_xml(primitive("vip", "ocf:oci:IPaddr2"))
    new, done = run(root)
    assert done.action == migration.UNCHANGED
    assert cib.to_text(new) == cib.to_text(root)

    _, absent = run(cib_xml(primitive("other", params={"ip": "10.0.0.9"})))
    assert absent.action == migration.ABSENT


def test_a_converted_cib_converts_to_itself():
    root = cib_xml(GROUP)
    new, _ = run(root)
    again, done = run(new)
    assert done.action == migration.UNCHANGED
    assert cib.to_text(again) == cib.to_text(new)


def refused(root: Any, **vip: Any) -> List[str]:
    new, done = run(root, **vip)
    assert done.action == migration.REFUSED
    assert cib.to_text(new) == cib.to_text(root), "a refusal changes nothing"
    return [p.render() for p in done.problems]


def test_refused_the_address_in_two_resources():
    root = cib_xml(primitive("vip") + primitive("vip2", "ocf:oci:IPaddr2"))
    assert "the address is in 2 resources: vip, vip2" in refused(root)[0]


def test_refused_inside_a_clone():
    root = cib_xml('<clone id="vip-clone">{}</clone>'.format(primitive("vip")))
    assert "vip is inside clone vip-clone" in refused(root)[0]


def test_refused_a_config_that_names_or_describes_it_otherwise():
    root = cib_xml(primitive("Cluster_VIP", params={"ip": "10.0.0.200", "nic": "eth0"}))

    found = refused(root, monitor_interval="30s")

    assert 'set vips[0].name to "Cluster_VIP"' in found[0]
    assert "Cluster_VIP has cidr_netmask=(unset), the config has 24" in found[1]
    assert "remove vips[0].cidr_netmask" in found[1]
    assert (
        "Cluster_VIP has nic=eth0, the config leaves it unset (make the config describe the "
        'resource: set vips[0].nic to "eth0")' in found[2]
    )
    assert 'set vips[0].monitor_interval to "10s"' in found[3]


def test_refused_an_ocivip_and_ipaddr2_that_are_not_tied():
    root = cib_xml(
        primitive("vip_oci", "ocf:heartbeat:ocivip", params={"secondary_private_ip": "10.0.0.200"})
        + primitive("vip")
    )
    assert "neither in one group nor colocated" in refused(root)[0]


def test_refused_rules_in_the_attributes():
    root = cib_xml(
        primitive("vip").replace(
            "<operations>",
            '<instance_attributes id="vip-ia2"><rule id="r" score="0"/></instance_attributes>'
            "<operations>",
        )
    )
    assert "several instance_attributes sets or rules" in refused(root)[0]


def test_one_refusal_stops_every_conversion():
    two = config()._replace(vips=config().vips + [config(name="vip2", ip="10.0.0.201").vips[0]])
    root = cib_xml(
        primitive("vip") + primitive("vip2", params={"ip": "10.0.0.201"}).replace("vip2", "other")
    )

    new, conversions = migration.plan(two, root)

    assert [c.action for c in conversions] == [migration.CONVERT, migration.REFUSED]
    assert cib.to_text(new) == cib.to_text(root)


def test_a_group_note_when_the_config_wants_it_elsewhere():
    _, done = run(cib_xml(GROUP), group="shop")
    assert done.notes == [
        "the config puts vip first in group shop, it is in group web: migrate keeps it where "
        "it is, `pcs-oci configure` moves it"
    ]
