"""A cluster on a CIB file: the real Pacemaker tools and scheduler, a stand-in controller.

FileCluster is a CommandRunner that runs cibadmin, crm_mon, crm_diff and
crm_simulate for real against one CIB file (CIB_file), as `pcs -f` does.
What only a live cluster does is emulated with the real scheduler:

- after every CIB change, the controller's reaction: `crm_simulate
  --simulate` on the file, repeated until the scheduler wants nothing more,
  its new status saved back (every action it "executed" is recorded);
- `crm_resource --refresh --resource R`: R's history removed from the status
  section, then the same reaction; the probes it schedules return what
  `running` says (0 on the node R's address is up on, 7 elsewhere), and the
  transition stops there as the controller's does on an unexpected result;
- `crm_simulate --live-check` reads the file.

So a test sees exactly which resources Pacemaker would have started,
stopped or restarted along the way, without a cluster.
"""

import os
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Sequence

from pcs_oci import settings
from pcs_oci.lib.cib_push import CRM_SIMULATE
from pcs_oci.lib.runner import CommandRunner, Result

# Each crm_simulate run applies one transition; a scheduler that still wants
# something after this many is looping.
MAX_TRANSITIONS = 10


class FileCluster(CommandRunner):
    def __init__(self, path: str, running: Optional[Dict[str, str]] = None):
        self.path = os.path.abspath(path)
        super().__init__(env_extend={"CIB_file": self.path})
        # resource -> the node where a probe finds it running.
        self.running = dict(running or {})
        # "<resource> <op> <node>" of every action the stand-in controller ran.
        self.executed: List[str] = []
        self.commands: List[List[str]] = []

    def run(
        self,
        args: Sequence[str],
        stdin: Optional[str] = None,
        timeout: float = 60.0,
        env_extend: Optional[Dict[str, str]] = None,
    ) -> Result:
        argv = [str(a) for a in args]
        self.commands.append(argv)
        if argv[0] == settings.CRM_RESOURCE and "--refresh" in argv:
            self.refresh(argv[argv.index("--resource") + 1])
            return Result(argv, 0, "", "")
        if argv[0] == CRM_SIMULATE and "--live-check" in argv:
            argv = [a for a in argv if a != "--live-check"] + ["--xml-file", self.path]
        result = super().run(argv, stdin, timeout, env_extend)
        own_file = not env_extend or env_extend.get("CIB_file") in (None, self.path)
        if argv[0] == settings.CIBADMIN and "--patch" in argv and result.ok and own_file:
            self.settle()
        return result

    def refresh(self, resource: str) -> None:
        tree = ET.parse(self.path)
        for lrm_resources in tree.getroot().iter("lrm_resources"):
            for entry in list(lrm_resources):
                if entry.get("id") == resource:
                    lrm_resources.remove(entry)
        tree.write(self.path)
        self.settle()

    def settle(self) -> None:
        """Run the scheduler's transitions until it wants nothing more."""
        probes = []
        for rid, node in self.running.items():
            probes += ["--op-fail", "{}_monitor_0@{}=0".format(rid, node)]
        for _ in range(MAX_TRANSITIONS):
            result = super().run(
                [CRM_SIMULATE, "--xml-file", self.path, "--simulate", "--save-output", self.path]
                + probes
                + ["--output-as=xml"],
                timeout=120,
            )
            if not result.ok:
                raise AssertionError("crm_simulate failed: {}".format(result.stderr))
            actions = _executed(result.stdout)
            if not actions:
                return
            self.executed += actions
            self._registered_anew([a.split()[::2] for a in actions if a.split()[1] == "delete"])
        raise AssertionError("the scheduler never settled: {}".format(self.executed[-10:]))

    def _registered_anew(self, deleted: List[List[str]]) -> None:
        """A "delete" unregisters the resource from the executor: the controller then
        records its next operations under the agent configured now, and erases an
        orphan's history (crm_simulate does neither, and would repeat it forever)."""
        if not deleted:
            return
        tree = ET.parse(self.path)
        root = tree.getroot()
        agents = {p.get("id"): p for p in root.iter("primitive")}
        for state in root.iter("node_state"):
            for entries in state.iter("lrm_resources"):
                for entry in list(entries):
                    rid = entry.get("id")
                    if [rid, state.get("uname")] not in deleted:
                        continue
                    if rid not in agents:  # an orphan's history is simply erased
                        entries.remove(entry)
                        continue
                    for attr in ("class", "provider", "type"):
                        value = agents[rid].get(attr)
                        if value is not None:
                            entry.set(attr, value)
        tree.write(self.path)

    def disruptive(self, resources: Sequence[str]) -> List[str]:
        """Executed starts and stops of `resources` (probes and monitors are neither)."""
        return [
            a
            for a in self.executed
            if a.split()[0] in resources and a.split()[1] in ("start", "stop")
        ]


def _executed(xml_text: str) -> List[str]:
    root: Any = ET.fromstring(xml_text)
    transition = root.find("transition")
    found = []
    for action in transition.findall("rsc_action") if transition is not None else []:
        found.append(
            "{} {} {}".format(action.get("resource"), action.get("op"), action.get("node"))
        )
    return found
