"""dnf's own package signature check (gpgcheck=1) on pcs-oci from a repository.

Run by the system Python that has dnf's bindings (python3-dnf):

    python3 dnf_gpgcheck.py DNF_CONF INSTALLROOT CACHEDIR RELEASEVER

`dnf install` runs this check on every downloaded package before its
transaction, but it resolves dependencies first, and pacemaker, pcs or the
OCI SDK are not in a pcs-oci-only repository. So this runs the same Base
methods the dnf CLI runs (download_packages, then the signature check and,
as `dnf -y` does, importing the repository's gpgkey into the installroot's
rpm database) without the depsolve. Prints one JSON object: the check's
result before and after the key import, [code, message] (0 = verified),
or the error dnf raised.
"""

import json
import sys
from typing import Any, Dict, List

import dnf  # type: ignore[import-not-found]
import dnf.exceptions  # type: ignore[import-not-found]


def main(conf: str, installroot: str, cachedir: str, releasever: str) -> Dict[str, Any]:
    base = dnf.Base()
    base.conf.read(conf)
    base.conf.installroot = installroot
    base.conf.cachedir = cachedir
    base.conf.substitutions["releasever"] = releasever
    base.conf.assumeyes = True
    base.read_all_repos()
    report: Dict[str, Any] = {}
    try:
        base.fill_sack(load_system_repo=False)
        packages = list(base.sack.query().available().filter(name="pcs-oci"))
        report["packages"] = [str(p) for p in packages]
        base.download_packages(packages)
        before: List[Any] = []
        after: List[Any] = []
        report.update(before=before, after=after)
        for package in packages:
            code, message = base.package_signature_check(package)
            before.append([code, message])
            if code == 1:  # the key is not in the rpm database yet: import the repo's gpgkey
                base.package_import_key(package, askcb=lambda *_: True)
                code, message = base.package_signature_check(package)
            after.append([code, message])
    except dnf.exceptions.Error as e:
        report["error"] = str(e)
    finally:
        base.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
