#!/bin/bash
# Regenerates the input CIBs of tests/integration/test_migrate_cib_file.py with
# the real pcs and Pacemaker (pcs -f, crm_simulate); run from this directory.
# The status sections come from crm_simulate: every resource started as the
# scheduler places it, as `pcs cluster cib` would save a running cluster.
set -euo pipefail
cd "$(dirname "$0")"

base() {  # FILE: two nodes, no fencing (as the sed recipe's cluster), quorum ignored
    cibadmin --empty >"$1"
    CIB_file=$1 cibadmin -C -o nodes -X '<node id="1" uname="node1"/>'
    CIB_file=$1 cibadmin -C -o nodes -X '<node id="2" uname="node2"/>'
    CIB_file=$1 crm_attribute -t crm_config -n stonith-enabled -v false
    CIB_file=$1 crm_attribute -t crm_config -n no-quorum-policy -v ignore
}

run() {  # FILE: bring both nodes up and let the scheduler start everything
    local tmp; tmp=$(mktemp)
    crm_simulate -x "$1" --node-up node1 --node-up node2 -S -O "$tmp" >/dev/null
    crm_simulate -x "$tmp" -S -O "$1" >/dev/null
    rm -f "$tmp"
}

# The sed recipe: heartbeat IPaddr2 first in a group with the application,
# plus a database colocated with the group and a location preference.
base recipe.xml
pcs -f recipe.xml resource create Cluster_VIP ocf:heartbeat:IPaddr2 ip=10.0.0.200 \
    cidr_netmask=24 arp_count=3 op monitor interval=10s --group web
pcs -f recipe.xml resource create app ocf:heartbeat:Dummy --group web
pcs -f recipe.xml resource create db ocf:heartbeat:Dummy
pcs -f recipe.xml constraint colocation add db with web
pcs -f recipe.xml constraint order web then db
pcs -f recipe.xml constraint location web prefers node1=50
run recipe.xml

# ocivip + IPaddr2 in one group, constraints naming the ocivip.
base ocivip-group.xml
pcs -f ocivip-group.xml resource create vip_oci ocf:heartbeat:ocivip \
    secondary_private_ip=10.0.0.200 cidr_netmask=24 --group web
pcs -f ocivip-group.xml resource create Cluster_VIP ocf:heartbeat:IPaddr2 ip=10.0.0.200 \
    cidr_netmask=24 op monitor interval=10s --group web
pcs -f ocivip-group.xml resource create app ocf:heartbeat:Dummy --group web
pcs -f ocivip-group.xml resource create db ocf:heartbeat:Dummy
pcs -f ocivip-group.xml constraint colocation add db with vip_oci
pcs -f ocivip-group.xml constraint location vip_oci prefers node1=50
run ocivip-group.xml

# ocivip and IPaddr2 side by side, tied by constraints.
base ocivip-colocated.xml
pcs -f ocivip-colocated.xml resource create vip_oci ocf:heartbeat:ocivip \
    secondary_private_ip=10.0.0.200
pcs -f ocivip-colocated.xml resource create Cluster_VIP ocf:heartbeat:IPaddr2 \
    ip=10.0.0.200 cidr_netmask=24 op monitor interval=10s
pcs -f ocivip-colocated.xml constraint colocation add Cluster_VIP with vip_oci
pcs -f ocivip-colocated.xml constraint order vip_oci then Cluster_VIP
run ocivip-colocated.xml

# What migrate refuses: the address in two resources, in a clone.
base two-resources.xml
pcs -f two-resources.xml resource create Cluster_VIP ocf:heartbeat:IPaddr2 ip=10.0.0.200 \
    cidr_netmask=24 op monitor interval=10s
# pcs itself refuses a second IPaddr2 with the same ip unless forced.
pcs -f two-resources.xml resource create other_vip ocf:heartbeat:IPaddr2 ip=10.0.0.200 \
    cidr_netmask=24 op monitor interval=10s --force

base clone.xml
pcs -f clone.xml resource create Cluster_VIP ocf:heartbeat:IPaddr2 ip=10.0.0.200 \
    cidr_netmask=24 op monitor interval=10s clone

base bundle.xml
CIB_file=bundle.xml cibadmin -C -o resources -X '<bundle id="web-bundle">
  <podman image="registry.example.com/web:1" replicas="1"/>
  <primitive id="Cluster_VIP" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="Cluster_VIP-instance_attributes">
      <nvpair id="Cluster_VIP-instance_attributes-ip" name="ip" value="10.0.0.200"/>
      <nvpair id="Cluster_VIP-instance_attributes-cidr_netmask" name="cidr_netmask" value="24"/>
    </instance_attributes>
  </primitive>
</bundle>'
