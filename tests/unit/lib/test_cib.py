"""cib: reading and editing CIB XML in memory."""

from pcs_oci.lib import cib

CIB = (
    '<cib epoch="7" num_updates="3" admin_epoch="0"><configuration><crm_config/><nodes>'
    '<node id="1" uname="node1"/></nodes><resources>'
    "<!-- the admin's note -->"
    '<group id="web"><primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">'
    '<operations><op id="vip-monitor" name="monitor" interval="10s"/></operations></primitive>'
    '<primitive id="app" class="ocf" provider="heartbeat" type="Dummy"/></group>'
    '<primitive id="db" class="ocf" provider="heartbeat" type="Dummy"/>'
    '<primitive id="cache" class="ocf" provider="heartbeat" type="Dummy"/>'
    '<primitive id="alone" class="ocf" provider="heartbeat" type="Dummy"/>'
    '<clone id="fs-clone"><primitive id="fs" class="ocf" provider="heartbeat" type="Dummy"/>'
    "</clone></resources><constraints>"
    '<rsc_colocation id="c1" rsc="db" with-rsc="web" score="INFINITY"/>'
    '<rsc_order id="o1"><resource_set id="s1"><resource_ref id="db"/>'
    '<resource_ref id="cache"/></resource_set></rsc_order>'
    '<rsc_location id="l1" rsc="alone" node="node1" score="10"/>'
    '<rsc_location id="l2" rsc="vip" node="node1" score="10"/>'
    "</constraints></configuration><status/></cib>"
)


def test_comments_survive_a_round_trip():
    assert "<!-- the admin's note -->" in cib.to_text(cib.parse(CIB))


def test_related_follows_groups_and_constraints_but_not_locations():
    root = cib.parse(CIB)
    assert cib.related(root, ["vip"]) == ["app", "cache", "db", "vip", "web"]
    assert cib.related(root, ["fs"]) == ["fs", "fs-clone"]


def test_reading_a_missing_section_does_not_create_it():
    root = cib.parse("<cib><configuration/></cib>")
    assert list(cib.section(root, "rsc_defaults")) == []
    assert cib.to_text(root) == "<cib><configuration /></cib>"


def test_set_nvpair_creates_the_set_in_pacemakers_order_with_pcs_ids():
    root = cib.parse(CIB)
    vip = cib.by_id(root, "vip")
    assert vip is not None

    assert cib.set_nvpair(root, vip, "meta_attributes", "resource-stickiness", "100")
    assert cib.set_nvpair(root, vip, "instance_attributes", "ip", "10.0.0.200")
    assert not cib.set_nvpair(root, vip, "instance_attributes", "ip", "10.0.0.200")

    assert [c.tag for c in vip] == ["instance_attributes", "meta_attributes", "operations"]
    nv = cib.find_nvpair(vip, "meta_attributes", "resource-stickiness")
    assert nv is not None and nv.get("id") == "vip-meta_attributes-resource-stickiness"


def test_unique_ids_and_added_ops():
    root = cib.parse(CIB)
    vip = cib.by_id(root, "vip")
    assert vip is not None
    assert cib.unique_id(root, "vip") == "vip-1"
    op = cib.add_op(root, vip, "monitor", "10s", "20s")
    assert op.get("id") == "vip-monitor-interval-10s"
    assert len(cib.ops(vip, "monitor")) == 2


def test_epoch_bump_and_cluster_options():
    root = cib.parse(CIB)
    cib.bump_epoch(root)
    assert cib.version(root) == "0.8.0"
    assert cib.cluster_option(root, "stonith-enabled") is None
    cib.set_cluster_option(root, "stonith-enabled", "false", "x-stonith")
    assert cib.cluster_option(root, "stonith-enabled") == "false"
    assert cib.node_names(root) == ["node1"]
