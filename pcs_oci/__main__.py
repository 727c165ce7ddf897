import sys

from pcs_oci.cli.main import main

sys.exit(main())
