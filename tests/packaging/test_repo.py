"""The yum repository: `make repo` builds it, and the real dnf trusts it.

`make repo` runs once per module with a release key this module generates
(the key is an input, as for a release) into a temporary directory, never
into ./dist. dnf then runs with only that repository configured: its own
config file, reposdir, cachedir and installroot, a file:// baseurl, no
network. It reads the metadata (repo_gpgcheck=1: repomd.xml.asc), lists
pcs-oci, shows its requirements and downloads it; its package signature
check (gpgcheck=1) accepts it. A tampered package or tampered metadata is
refused, and `rpm -K` checks the packages against the exported key.
"""

import configparser
import gzip
import json
import os
import shutil
import signal
import subprocess
from typing import Any, Dict, Iterator, List, NamedTuple

import pytest

from pcs_oci import __version__
from tests.packaging.tools import EL_PYTHON, EL_REQUIRES, ELS, REPO, check, need, run

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("rpmbuild", "createrepo_c", "dnf", "gpg", "rpmsign")),
    reason="rpmbuild, createrepo_c, dnf, gpg or rpmsign is missing (make deps installs them)",
)

SYSTEM_PYTHON = "/usr/bin/python3"  # the one with dnf's bindings (python3-dnf)
GPGCHECK = os.path.join(REPO, "tests", "packaging", "dnf_gpgcheck.py")
KEY_FILE = "RPM-GPG-KEY-pcs-oci"


def kill_gpg_agents(under: Any) -> None:
    """End the gpg-agents gpg, rpmsign or dnf's librepo started for keyrings under `under`.

    They outlive the command that started them; each is found by its
    --homedir, so only agents of this test's own keyrings are ended.
    """
    prefix = str(under)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/{}/cmdline".format(pid), "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == "gpg-agent":
            homedirs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--homedir"]
            if any(h.startswith(prefix) for h in homedirs):
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except ProcessLookupError:
                    pass


def gpg(home: Any, *args: str) -> "subprocess.CompletedProcess[str]":
    return check(["gpg", "--batch", *args], env={"GNUPGHOME": str(home)})


def make_key(home: Any, name: str) -> str:
    """A new passphrase-less RSA signing key in `home`; its fingerprint."""
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", name, "rsa3072", "sign", "never")
    out = gpg(home, "--with-colons", "--list-secret-keys").stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


class Repo(NamedTuple):
    path: Any  # the repository directory (pathlib)
    fingerprint: str  # of the key that signed it
    gnupghome: Any


def make_repo(
    out: Any, *, key: str = "", gnupghome: Any = None
) -> "subprocess.CompletedProcess[str]":
    args = ["make", "-s", "--no-print-directory", "repo"]
    args += ["REPO_DIR={}".format(out / "repo"), "REPO_BUILD={}".format(out / "build")]
    env = {}
    if key:
        args.append("GPG_KEY_ID=" + key)
        env["GNUPGHOME"] = str(gnupghome)
    return run(args, cwd=REPO, env=env, timeout=300)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: Any) -> Iterator[Repo]:
    out = tmp_path_factory.mktemp("repo")
    home = out / "release-gnupg"
    try:
        fingerprint = make_key(home, "pcs-oci release test key <release@pcs-oci.invalid>")
        result = make_repo(out, key=fingerprint, gnupghome=home)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "throwaway" not in result.stderr
        yield Repo(out / "repo", fingerprint, home)
    finally:
        kill_gpg_agents(out)


def el_rpm(repo_dir: Any, el: str) -> Any:
    return repo_dir / "el{}".format(el) / "pcs-oci-{}-1.el{}.noarch.rpm".format(__version__, el)


def repo_file(repo_dir: Any) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(str(repo_dir / "pcs-oci.repo"))
    return parser["pcs-oci"]


# ------------------------------------------------------------ what make repo writes


def test_layout_key_and_repo_file(repo: Repo) -> None:
    top = sorted(p.name for p in repo.path.iterdir())
    assert top == sorted([KEY_FILE, "pcs-oci.repo"] + ["el" + el for el in ELS])
    for el in ELS:
        directory = repo.path / ("el" + el)
        assert sorted(p.name for p in directory.iterdir()) == [
            el_rpm(repo.path, el).name,
            "repodata",
        ]
        repodata = {p.name for p in (directory / "repodata").iterdir()}
        assert {"repomd.xml", "repomd.xml.asc"} <= repodata
        assert (
            (directory / "repodata/repomd.xml.asc")
            .read_text()
            .startswith("-----BEGIN PGP SIGNATURE-----")
        )
    # The exported key is exactly the release key (public part only).
    shown = check(["gpg", "--batch", "--with-colons", "--show-keys", str(repo.path / KEY_FILE)])
    fingerprints = [ln.split(":")[9] for ln in shown.stdout.splitlines() if ln.startswith("fpr:")]
    assert fingerprints[0] == repo.fingerprint
    assert "PRIVATE KEY" not in (repo.path / KEY_FILE).read_text()
    section = repo_file(repo.path)
    url = "file://{}".format(repo.path)
    assert dict(section) == {
        "name": "pcs-oci for Enterprise Linux $releasever",
        "baseurl": url + "/el$releasever/",
        "enabled": "1",
        "gpgcheck": "1",
        "repo_gpgcheck": "1",
        "gpgkey": "{}/{}".format(url, KEY_FILE),
    }


def test_repo_url_is_an_input(tmp_path: Any) -> None:
    """A release names where the repository will be served; pcs-oci.repo points there."""
    result = run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "repo",
            "REPO_DIR={}".format(tmp_path / "repo"),
            "REPO_BUILD={}".format(tmp_path / "build"),
            "REPO_URL=https://example.invalid/pcs-oci/",
        ],
        cwd=REPO,
        timeout=300,
    )
    kill_gpg_agents(tmp_path)
    assert result.returncode == 0, result.stderr
    section = repo_file(tmp_path / "repo")
    assert section["baseurl"] == "https://example.invalid/pcs-oci/el$releasever/"
    assert section["gpgkey"] == "https://example.invalid/pcs-oci/" + KEY_FILE


def rpm_k(dbpath: Any, rpm_file: Any) -> "subprocess.CompletedProcess[str]":
    return run(["rpm", "--dbpath", str(dbpath), "-K", str(rpm_file)])


@pytest.mark.parametrize("el", ELS)
def test_rpm_K_passes_with_the_key_and_only_with_it(repo: Repo, el: str, tmp_path: Any) -> None:
    rpm_file = el_rpm(repo.path, el)
    signature = check(["rpm", "-qp", "--qf", "%{RSAHEADER:pgpsig}", str(rpm_file)]).stdout
    assert signature.startswith("RSA/SHA256, ")
    assert signature.endswith("Key ID " + repo.fingerprint[-16:].lower())
    db = tmp_path / "rpmdb"
    db.mkdir()
    without_key = rpm_k(db, rpm_file)
    assert without_key.returncode != 0 and "SIGNATURES NOT OK" in without_key.stdout
    check(["rpm", "--dbpath", str(db), "--import", str(repo.path / KEY_FILE)])
    with_key = rpm_k(db, rpm_file)
    assert (with_key.returncode, with_key.stdout.strip()) == (
        0,
        "{}: digests signatures OK".format(rpm_file),
    )


# ------------------------------------------------------------ the real dnf


class Dnf:
    """dnf with only the repository's own pcs-oci.repo, all state under `work`."""

    def __init__(self, work: Any, repo_dir: Any, el: str) -> None:
        self.work, self.el = work, el
        self.reposdir = work / "repos.d"
        self.reposdir.mkdir(parents=True)
        # What a user does: the repository's .repo file into the repos dir.
        shutil.copy(str(repo_dir / "pcs-oci.repo"), str(self.reposdir))
        self.root, self.cache = work / "root", work / "cache"
        self.conf = work / "dnf.conf"
        self.conf.write_text(
            "[main]\nreposdir={}\ncachedir={}\ngpgcheck=1\nrepo_gpgcheck=1\n"
            "skip_if_unavailable=False\n".format(self.reposdir, self.cache)
        )

    def __call__(self, *args: str, plugin: str = "") -> "subprocess.CompletedProcess[str]":
        plugins = ["--disableplugin=*", "--enableplugin=" + plugin] if plugin else ["--noplugins"]
        cmd = ["dnf", "-y", "--config", str(self.conf), "--installroot", str(self.root)]
        cmd += ["--releasever", self.el, "--setopt=reposdir={}".format(self.reposdir)]
        cmd += ["--setopt=cachedir={}".format(self.cache), *plugins, *args]
        return run(cmd, timeout=120)

    def gpgcheck(self) -> Dict[str, Any]:
        """dnf's package signature check (tests/packaging/dnf_gpgcheck.py)."""
        cmd = [SYSTEM_PYTHON, GPGCHECK, str(self.conf), str(self.work / "root-gpgcheck")]
        cmd += [str(self.work / "cache-gpgcheck"), self.el]
        out = check(cmd, timeout=120).stdout
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def dnf_for(tmp_path: Any) -> Iterator[Any]:
    made: List[Dnf] = []

    def make(repo_dir: Any, el: str) -> Dnf:
        made.append(Dnf(tmp_path / "dnf{}".format(len(made)), repo_dir, el))
        return made[-1]

    try:
        yield make
    finally:
        kill_gpg_agents(tmp_path)


def needs_dnf_bindings() -> None:
    need(SYSTEM_PYTHON)
    if run([SYSTEM_PYTHON, "-c", "import dnf"]).returncode != 0:
        pytest.skip("{} has no dnf bindings (apt-get install python3-dnf)".format(SYSTEM_PYTHON))


@pytest.mark.parametrize("el", ELS)
def test_dnf_verifies_lists_shows_requirements_and_downloads(
    repo: Repo, el: str, dnf_for: Any
) -> None:
    dnf = dnf_for(repo.path, el)
    cache = dnf("makecache")
    assert cache.returncode == 0, cache.stderr
    # repo_gpgcheck=1: the key comes from the repo's gpgkey, then repomd.xml.asc is checked.
    assert "Importing GPG key 0x{}".format(repo.fingerprint[-8:]) in cache.stderr
    assert "Metadata cache created." in cache.stdout

    listed = dnf("-q", "list", "--available")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert rows == [["pcs-oci.noarch", "{}-1.el{}".format(__version__, el), "pcs-oci"]]

    requires = dnf("-q", "repoquery", "--requires", "pcs-oci")
    assert requires.returncode == 0, requires.stderr
    expected = EL_REQUIRES[el] | {"/bin/sh", "/usr/bin/python3", "python(abi) = " + EL_PYTHON[el]}
    assert set(requires.stdout.split("\n")) - {""} == expected

    destdir = dnf.work / "downloaded"
    got = dnf("-q", "download", "--destdir", str(destdir), "pcs-oci", plugin="download")
    assert got.returncode == 0, got.stderr
    downloaded = [p.name for p in destdir.iterdir()]
    assert downloaded == [el_rpm(repo.path, el).name]
    assert (destdir / downloaded[0]).read_bytes() == el_rpm(repo.path, el).read_bytes()


@pytest.mark.parametrize("el", ELS)
def test_dnf_package_signature_check_accepts_the_package(repo: Repo, el: str, dnf_for: Any) -> None:
    needs_dnf_bindings()
    report = dnf_for(repo.path, el).gpgcheck()
    assert report["packages"] == ["pcs-oci-{}-1.el{}.noarch".format(__version__, el)]
    # Not yet trusted: the key is not in the rpm database; then imported from gpgkey.
    assert report["before"][0][0] == 1 and "not installed" in report["before"][0][1]
    assert report["after"][0][0] == 0, report


# ------------------------------------------------------------ tampering


def tampered_copy(repo: Repo, tmp_path: Any) -> Any:
    copy = tmp_path / "repo"
    shutil.copytree(str(repo.path), str(copy))
    # The copy's pcs-oci.repo must point at the copy.
    text = (copy / "pcs-oci.repo").read_text().replace(str(repo.path), str(copy))
    (copy / "pcs-oci.repo").write_text(text)
    return copy


def primary_file(repodata: Any) -> Any:
    return next(p for p in repodata.iterdir() if p.name.endswith("-primary.xml.gz"))


@pytest.mark.parametrize("el", ELS)
def test_dnf_refuses_repomd_that_does_not_match_its_signature(
    repo: Repo, el: str, tmp_path: Any, dnf_for: Any
) -> None:
    copy = tampered_copy(repo, tmp_path)
    repomd = copy / "el{}".format(el) / "repodata" / "repomd.xml"
    original = repomd.read_text()
    repomd.write_text(original.replace("<revision>", "<revision>1", 1))
    assert repomd.read_text() != original
    result = dnf_for(copy, el)("makecache")
    assert result.returncode != 0
    assert "repomd.xml GPG signature verification error: Bad GPG signature" in result.stderr


@pytest.mark.parametrize("el", ELS)
def test_dnf_refuses_metadata_that_repomd_does_not_list(
    repo: Repo, el: str, tmp_path: Any, dnf_for: Any
) -> None:
    """primary.xml changed (a requirement dropped), the signed repomd.xml kept."""
    copy = tampered_copy(repo, tmp_path)
    primary = primary_file(copy / "el{}".format(el) / "repodata")
    with gzip.open(str(primary), "rt") as f:
        xml = f.read()
    assert '<rpm:entry name="pacemaker"/>' in xml
    with gzip.open(str(primary), "wt") as f:
        f.write(xml.replace('<rpm:entry name="pacemaker"/>', ""))
    dnf = dnf_for(copy, el)
    result = dnf("makecache")
    assert result.returncode != 0
    assert "primary.xml" in result.stderr and "checksum" in result.stderr.lower(), result.stderr


@pytest.mark.parametrize("el", ELS)
def test_dnf_and_rpm_refuse_a_changed_package(
    repo: Repo, el: str, tmp_path: Any, dnf_for: Any
) -> None:
    copy = tampered_copy(repo, tmp_path)
    rpm_file = el_rpm(copy, el)
    data = bytearray(rpm_file.read_bytes())
    data[-100] ^= 0xFF  # one byte of the payload
    rpm_file.write_bytes(bytes(data))

    dnf = dnf_for(copy, el)
    got = dnf(
        "-q", "download", "--destdir", str(dnf.work / "downloaded"), "pcs-oci", plugin="download"
    )
    assert got.returncode != 0
    assert "incorrect checksum" in got.stderr
    assert not (dnf.work / "downloaded").exists() or not list((dnf.work / "downloaded").iterdir())

    db = tmp_path / "rpmdb"
    db.mkdir()
    check(["rpm", "--dbpath", str(db), "--import", str(copy / KEY_FILE)])
    result = rpm_k(db, rpm_file)
    assert result.returncode != 0 and "NOT OK" in result.stdout


def resign_and_reindex(repo: Repo, copy: Any, el: str, how: str, tmp_path: Any) -> None:
    """The package re-signed by another key (or unsigned), its metadata redone
    and signed with the release key: only the package signature can catch it."""
    rpm_file = el_rpm(copy, el)
    if how == "unsigned":
        check(["rpmsign", "--delsign", str(rpm_file)])
    else:
        home = tmp_path / "other-gnupg"
        other = make_key(home, "someone else <other@pcs-oci.invalid>")
        defines = [
            "--define",
            "__gpg " + shutil.which("gpg"),
            "--define",
            "_gpg_digest_algo sha256",
        ]
        defines += ["--define", "_gpg_name " + other, "--define", "_gpg_path {}".format(home)]
        check(["rpmsign", "--addsign", *defines, str(rpm_file)], stdin=subprocess.DEVNULL)
    directory = copy / "el{}".format(el)
    shutil.rmtree(str(directory / "repodata"))
    check(["createrepo_c", "--quiet", "--general-compress-type=gz", str(directory)])
    gpg(
        repo.gnupghome,
        "--yes",
        "--local-user",
        repo.fingerprint,
        "--armor",
        "--detach-sign",
        str(directory / "repodata" / "repomd.xml"),
    )


@pytest.mark.parametrize("how", ["other key", "unsigned"])
@pytest.mark.parametrize("el", ELS)
def test_dnf_refuses_a_package_not_signed_by_the_repository_key(
    repo: Repo, el: str, how: str, tmp_path: Any, dnf_for: Any
) -> None:
    needs_dnf_bindings()
    copy = tampered_copy(repo, tmp_path)
    resign_and_reindex(repo, copy, el, how, tmp_path)
    dnf = dnf_for(copy, el)
    # The metadata is consistent and signed: dnf reads it and lists the package...
    assert dnf("makecache").returncode == 0
    # ...but the package signature check refuses it.
    report = dnf.gpgcheck()
    if how == "unsigned":
        assert report["before"] == [[2, "Package {} is not signed".format(el_rpm(copy, el).name)]]
        assert report["after"][0][0] != 0
    else:
        # dnf imports the repository's key, and the package still does not verify.
        assert report["before"][0][0] == 1 and report["after"] == []
        assert report["error"].startswith(
            "Public key for {} is not installed. Failing package is: pcs-oci-".format(
                el_rpm(copy, el).name
            )
        ), report


# ------------------------------------------------------------ the throwaway key


def test_without_a_key_a_throwaway_key_signs_and_is_deleted(tmp_path: Any, dnf_for: Any) -> None:
    home = tmp_path / "caller-gnupg"  # the caller's keyring: must stay untouched
    home.mkdir(mode=0o700)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    args = ["make", "-s", "--no-print-directory", "repo", "REPO_DIR={}".format(tmp_path / "repo")]
    args += ["REPO_BUILD={}".format(tmp_path / "build")]
    result = run(args, cwd=REPO, env={"GNUPGHOME": str(home), "TMPDIR": str(scratch)}, timeout=300)
    kill_gpg_agents(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "make-repo: signing with a throwaway key (" in result.stderr
    assert list(scratch.iterdir()) == []  # its keyring, secret key included, is gone
    assert list(home.iterdir()) == []
    db = tmp_path / "rpmdb"
    db.mkdir()
    check(["rpm", "--dbpath", str(db), "--import", str(tmp_path / "repo" / KEY_FILE)])
    for el in ELS:
        assert rpm_k(db, el_rpm(tmp_path / "repo", el)).returncode == 0
    assert dnf_for(tmp_path / "repo", ELS[-1])("makecache").returncode == 0


def test_an_unknown_key_is_a_one_line_error(tmp_path: Any) -> None:
    home = tmp_path / "empty-gnupg"
    home.mkdir(mode=0o700)
    result = make_repo(tmp_path, key="0123456789ABCDEF", gnupghome=home)
    kill_gpg_agents(tmp_path)
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("make-repo:")]
    assert lines == [
        "make-repo: no secret key '0123456789ABCDEF' in {}: set GNUPGHOME to the keyring "
        "that holds it".format(home)
    ]
    assert not (tmp_path / "repo").exists()
