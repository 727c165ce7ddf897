"""pcs-oci: Pacemaker virtual IPs that move on Oracle Cloud Infrastructure.

Metadata lives here (not in pyproject.toml) so EL9's setuptools reads it
when the RPM is built with %py3_build.
"""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def version() -> str:
    with open(os.path.join(HERE, "pcs_oci", "__init__.py"), encoding="utf-8") as f:
        match = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
    if not match:
        raise RuntimeError("no __version__ in pcs_oci/__init__.py")
    return match.group(1)


setup(
    name="pcs-oci",
    version=version(),
    description="Pacemaker virtual IPs that move on Oracle Cloud Infrastructure",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="GPL-2.0-or-later",
    python_requires=">=3.9",
    packages=find_packages(exclude=["tests", "tests.*", "bench", "bench.*"]),
    package_data={"pcs_oci": ["schema/*.json"]},
    # oci is imported lazily and only where the cloud is called; the RPM
    # requires the OS package (python39-oci-sdk) instead of python3dist(oci).
    install_requires=["jsonschema>=3.2"],
    # The SDK floor: OL9 images' python39-oci-sdk (docs/oci-behaviour.md).
    extras_require={"oci": ["oci>=2.93.1"], "completion": ["argcomplete>=1.9"]},
    entry_points={"console_scripts": ["pcs-oci = pcs_oci.cli.main:main"]},
    classifiers=[
        "Environment :: Console",
        "Intended Audience :: System Administrators",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3",
        "Topic :: System :: Clustering",
    ],
)
