"""The agent's per-resource state: what start learnt, what monitor last saw.

One JSON file per resource in a root-only directory on tmpfs (/run), so a
reboot forgets it, as it forgets the address. Written atomically, mode 0600.
It holds OCIDs and timestamps only, never credentials.

Beside it, <resource>.fresh says when OCI was last checked, in seconds since
boot (CLOCK_BOOTTIME, what /proc/uptime shows), and for which address: the
entry point agents/IPaddr2 reads it with the shell alone and runs heartbeat
IPaddr2's monitor without starting Python while a monitor_api answer is
fresh. A check "in the future" (checked_at after now) writes no .fresh.
"""

import json
import os
import re
import time
from typing import Any, Dict, Mapping, Optional

STATE_DIR_ENV = "PCS_OCI_STATE_DIR"
DEFAULT_STATE_DIR = "/run/pcs-oci"


def state_dir(environ: Mapping[str, str]) -> str:
    return environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


def _path(environ: Mapping[str, str], suffix: str = ".json") -> str:
    name = environ.get("OCF_RESOURCE_INSTANCE") or "default"
    # Clone instances are "vip:0"; keep the file name tame whatever the CIB says.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:200]
    return os.path.join(state_dir(environ), safe + suffix)


def fresh_path(environ: Mapping[str, str]) -> str:
    return _path(environ, ".fresh")


def load(environ: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    try:
        with open(_path(environ), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(directory: str, target: str, text: str) -> None:
    # A name of our own (pid and a counter) created exclusively, mode 0600,
    # in the root-only directory: what tempfile.mkstemp does, without its
    # 8 ms of imports on every start.
    global _written
    _written += 1
    tmp = os.path.join(directory, ".state.{}.{}".format(os.getpid(), _written))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        # Left by a killed process that had our pid: only we write here.
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_written = 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def save(environ: Mapping[str, str], data: Dict[str, Any]) -> None:
    directory = state_dir(environ)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    now = time.time()
    # The shell's view first: it must never outlive what the JSON says.
    checked, ip = data.get("checked_at"), data.get("ip")
    age = now - checked if isinstance(checked, (int, float)) else -1.0
    booted = time.clock_gettime(time.CLOCK_BOOTTIME)
    # Only a check since this boot (checked_at 0 means "check now").
    if isinstance(ip, str) and ip and 0 <= age < booted:
        _write(directory, fresh_path(environ), "{} {}\n".format(int(booted - age), ip))
    else:
        _unlink(fresh_path(environ))
    _write(directory, _path(environ), json.dumps(dict(data, written_at=now)))


def remove(environ: Mapping[str, str]) -> None:
    _unlink(fresh_path(environ))
    _unlink(_path(environ))
