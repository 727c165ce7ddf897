"""migrate_window: what is unmanaged while Pacemaker re-probes, and how it is handed back."""

from pcs_oci.lib import cib, migrate_window

CIB = (
    "<cib><configuration><crm_config>"
    '<cluster_property_set id="opts">{orphans}</cluster_property_set></crm_config>'
    "<resources>"
    '<group id="web"><primitive id="vip" class="ocf" provider="oci" type="IPaddr2"/>'
    '<primitive id="app" class="ocf" provider="heartbeat" type="Dummy">{app_meta}</primitive>'
    "</group></resources>{defaults}</configuration></cib>"
)


def build(orphans: str = "", app_meta: str = "", defaults: str = "") -> str:
    return CIB.format(orphans=orphans, app_meta=app_meta, defaults=defaults)


def managed(root, rid):
    return cib.nvpairs(cib.by_id(root, rid), "meta_attributes").get("is-managed")


def test_open_and_close_leave_the_cib_as_it_was():
    text = build()
    root = cib.parse(text)

    unmanaged = migrate_window.open_window(root, ["web"], orphans=True)

    assert unmanaged == ["vip", "app"]
    assert managed(root, "vip") == managed(root, "app") == "false"
    assert cib.cluster_option(root, "stop-orphan-resources") == "false"
    assert len(migrate_window.markers(root)) == 3

    restored = migrate_window.close_window(root)

    assert sorted(restored) == ["app", "stop-orphan-resources", "vip"]
    assert cib.to_text(root) == cib.to_text(cib.parse(text))


def test_an_admins_own_unmanaged_resource_stays_unmanaged():
    root = cib.parse(
        build(
            app_meta='<meta_attributes id="app-ma"><nvpair id="app-im" name="is-managed" '
            'value="false"/></meta_attributes>'
        )
    )

    assert migrate_window.open_window(root, ["web"], orphans=False) == ["vip"]
    migrate_window.close_window(root)

    assert managed(root, "app") == "false"
    assert managed(root, "vip") is None


def test_explicitly_managed_against_an_unmanaged_default_is_managed_again():
    root = cib.parse(
        build(
            app_meta='<meta_attributes id="app-ma"><nvpair id="app-im" name="is-managed" '
            'value="true"/></meta_attributes>',
            defaults='<rsc_defaults><meta_attributes id="d"><nvpair id="d-im" '
            'name="is-managed" value="false"/></meta_attributes></rsc_defaults>',
        )
    )

    migrate_window.open_window(root, ["app"], orphans=False)
    assert managed(root, "app") == "false"
    migrate_window.close_window(root)

    assert managed(root, "app") == "true"


def test_orphans_already_kept_are_not_touched():
    orphans = '<nvpair id="o" name="stop-orphan-resources" value="false"/>'
    root = cib.parse(build(orphans=orphans))
    migrate_window.open_window(root, ["vip"], orphans=True)
    migrate_window.close_window(root)
    assert cib.find_nvpair(cib.section(root, "crm_config"), "cluster_property_set", "x") is None
    assert cib.cluster_option(root, "stop-orphan-resources") == "false"
