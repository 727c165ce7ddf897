"""The agent's per-resource state: what start learnt, what monitor last saw.

One JSON file per resource in a root-only directory on tmpfs (/run), so a
reboot forgets it, as it forgets the address. Written atomically, mode 0600.
It holds OCIDs and timestamps only, never credentials.
"""

import json
import os
import re
import tempfile
import time
from typing import Any, Dict, Mapping, Optional

STATE_DIR_ENV = "PCS_OCI_STATE_DIR"
DEFAULT_STATE_DIR = "/run/pcs-oci"


def state_dir(environ: Mapping[str, str]) -> str:
    return environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


def _path(environ: Mapping[str, str]) -> str:
    name = environ.get("OCF_RESOURCE_INSTANCE") or "default"
    # Clone instances are "vip:0"; keep the file name tame whatever the CIB says.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:200]
    return os.path.join(state_dir(environ), safe + ".json")


def load(environ: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    try:
        with open(_path(environ), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save(environ: Mapping[str, str], data: Dict[str, Any]) -> None:
    directory = state_dir(environ)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=".state.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(data, written_at=time.time()), f)
        os.replace(tmp, _path(environ))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove(environ: Mapping[str, str]) -> None:
    try:
        os.unlink(_path(environ))
    except OSError:
        pass
