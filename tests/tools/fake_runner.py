"""A scripted stand-in for CommandRunner, after pcs's own test runner.

The test lists the commands it expects, in order, with their canned output;
any other command fails the test, and assert_all_called() checks that none
was skipped.
"""

from typing import Any, List, NamedTuple, Optional, Sequence

from pcs_oci.lib.runner import CommandRunner, Result


class Call(NamedTuple):
    argv: List[str]
    stdout: str = ""
    stderr: str = ""
    returncode: int = 0


class FakeRunner(CommandRunner):
    def __init__(self, calls: Sequence[Call]):
        super().__init__()
        self.expected = list(calls)
        self.done: List[List[str]] = []

    def run(
        self,
        args: Sequence[str],
        stdin: Optional[str] = None,
        timeout: float = 60.0,
        env_extend: Any = None,
    ) -> Result:
        argv = [str(a) for a in args]
        index = len(self.done)
        assert index < len(self.expected), "unexpected command #{}: {}".format(index + 1, argv)
        call = self.expected[index]
        assert argv == call.argv, "command #{}:\n  expected {}\n  got      {}".format(
            index + 1, call.argv, argv
        )
        self.done.append(argv)
        return Result(argv, call.returncode, call.stdout, call.stderr)

    def assert_all_called(self) -> None:
        missing = self.expected[len(self.done) :]
        assert not missing, "commands never run: {}".format([c.argv for c in missing])


# -- canned outputs of the cluster tools


def crm_mon_xml(
    nodes: Sequence[str] = ("node1", "node2"),
    resources: Sequence[tuple] = (),
    stonith: bool = False,
) -> str:
    """resources: (id, agent, active_node or None)."""
    node_xml = "".join(
        '<node name="{}" id="{}" online="true" standby="false" type="member"/>'.format(n, i + 1)
        for i, n in enumerate(nodes)
    )
    rsc_xml = ""
    for rid, agent, node in resources:
        inner = '<node name="{}" id="1" cached="true"/>'.format(node) if node else ""
        rsc_xml += (
            '<resource id="{}" resource_agent="{}" role="{}" active="{}" failed="false">'
            "{}</resource>".format(
                rid, agent, "Started" if node else "Stopped", "true" if node else "false", inner
            )
        )
    return (
        '<pacemaker-result api-version="2.3" request="crm_mon">'
        '<summary><current_dc present="true" with_quorum="true"/>'
        '<cluster_options stonith-enabled="{}"/></summary>'
        "<nodes>{}</nodes><resources>{}</resources>"
        '<status code="0" message="OK"/></pacemaker-result>'.format(
            "true" if stonith else "false", node_xml, rsc_xml
        )
    )


def cib_resources_xml(primitives: Sequence[str] = ()) -> str:
    return "<resources>{}</resources>".format("".join(primitives))


def primitive_xml(
    rid: str,
    params: dict,
    meta: Optional[dict] = None,
    ops: Sequence[tuple] = (),
    agent: tuple = ("ocf", "oci", "IPaddr2"),
) -> str:
    nv = "".join(
        '<nvpair id="{0}-ia-{1}" name="{1}" value="{2}"/>'.format(rid, k, v)
        for k, v in params.items()
    )
    mv = "".join(
        '<nvpair id="{0}-ma-{1}" name="{1}" value="{2}"/>'.format(rid, k, v)
        for k, v in (meta or {}).items()
    )
    ov = "".join(
        '<op id="{0}-{1}-{2}" name="{1}" interval="{2}" timeout="{3}"/>'.format(rid, *op)
        for op in ops
    )
    return (
        '<primitive id="{}" class="{}" provider="{}" type="{}">'
        '<instance_attributes id="{}-ia">{}</instance_attributes>'
        '<meta_attributes id="{}-ma">{}</meta_attributes>'
        "<operations>{}</operations></primitive>".format(rid, *agent, rid, nv, rid, mv, ov)
    )


def cib_configuration_xml(
    primitives: Sequence[str] = (),
    constraints: str = "",
    rsc_defaults: Optional[dict] = None,
) -> str:
    """`cibadmin --query --scope configuration`: resources, constraints, rsc_defaults."""
    defaults = ""
    if rsc_defaults is not None:
        defaults = (
            '<rsc_defaults><meta_attributes id="rsc_defaults-meta_attributes">{}'
            "</meta_attributes></rsc_defaults>".format(
                "".join(
                    '<nvpair id="rsc_defaults-meta_attributes-{0}" name="{0}" value="{1}"/>'.format(
                        k, v
                    )
                    for k, v in rsc_defaults.items()
                )
            )
        )
    return (
        "<configuration><crm_config/><nodes/>{}<constraints>{}</constraints>{}"
        "</configuration>".format(cib_resources_xml(primitives), constraints, defaults)
    )
