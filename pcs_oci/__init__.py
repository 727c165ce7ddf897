"""pcs-oci: Pacemaker virtual IPs that move on Oracle Cloud Infrastructure."""

__version__ = "0.1.0"
