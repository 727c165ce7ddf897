import sys

from pcs_oci.agent.main import main

sys.exit(main())
