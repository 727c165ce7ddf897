# The OciApi factory fixture of test_oci_layer.py, for every module here.
from tests.integration.test_oci_layer import make_api  # noqa: F401
