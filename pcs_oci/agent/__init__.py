"""The OCF resource agent ocf:oci:IPaddr2, as importable, testable handlers.

The installed entry point (agents/IPaddr2) is a few lines of shell: a plain
monitor goes straight to heartbeat IPaddr2 (it runs every 10 s forever and
must cost no more than IPaddr2 itself); every other action runs
`python3 -m pcs_oci.agent`.
"""
