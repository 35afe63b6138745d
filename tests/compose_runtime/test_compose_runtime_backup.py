"""Backups through the container engine: files in a compose named volume, PostgreSQL by its own tools."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from compose_runtime_support import Engine, MakeProject, free_port

from seawall.backup import create_backup, restore, verify_backup
from seawall.backup._plan import stack_targets
from seawall.backup.sources import HostileMember, container_files, container_postgres, datastore_for
from seawall.backup.sources._container_tar import deletions, reencode
from seawall.config import StackConfig, load_stack
from seawall.errors import RuntimeDriverError
from seawall.runtime import ComposeRuntime

ENGINE = [pytest.mark.engine, pytest.mark.integration]
APPLETS = ("sh", "cat", "tar", "find", "xargs", "rm", "mkdir", "sleep", "ln", "chmod", "touch", "head", "ls")
PG_HOME = Path("/usr/lib/postgresql/15")
PG_START = (
    "echo secret > /tmp/pw; D=/var/lib/postgresql/data; test -s $D/PG_VERSION || "
    "{ initdb -D $D -U postgres --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 -E UTF8 "
    '--locale=C >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }; echo "host all all all '
    'scram-sha-256" >> $D/pg_hba.conf; }; exec postgres -D $D -c listen_addresses=* -k /var/run/postgresql'
)


def _import(rootfs: Path, tag: str, *changes: str) -> None:
    archive = rootfs.parent / f"{rootfs.name}.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True, timeout=300)
    options = [item for change in changes for item in ("--change", change)]
    podman = shutil.which("podman") or "podman"
    subprocess.run(
        [podman, "import", *options, str(archive), tag], check=True, capture_output=True, timeout=300
    )
    archive.unlink()


def _busybox_into(rootfs: Path) -> None:
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "tmp").mkdir(mode=0o1777)
    (rootfs / "tmp").chmod(0o1777)


def _rmi(tag: str) -> None:
    podman = shutil.which("podman") or "podman"
    subprocess.run([podman, "rmi", "--force", tag], capture_output=True, check=False, timeout=60)


@pytest.fixture(scope="module")
def tools_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `FROM scratch` busybox image with the applets the exec transport uses (tar, find, xargs, rm)."""
    rootfs = tmp_path_factory.mktemp("tools") / "rootfs"
    _busybox_into(rootfs)
    (rootfs / "data").mkdir()
    tag = f"localhost/seawall-test-tools:{uuid.uuid4().hex[:10]}"
    _import(rootfs, tag, 'CMD ["/bin/sh"]')
    yield tag
    _rmi(tag)


@pytest.fixture(scope="module")
def postgres_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL 15 in a `FROM scratch` image: the host's server binaries and the libraries `ldd` names."""
    if not (PG_HOME / "bin" / "postgres").is_file() or shutil.which("ldd") is None:
        pytest.skip(f"no PostgreSQL server binaries in {PG_HOME} (or no ldd) to build an image from")
    rootfs = tmp_path_factory.mktemp("pg") / "rootfs"
    _busybox_into(rootfs)
    shutil.copytree(PG_HOME, rootfs / PG_HOME.relative_to("/"), symlinks=True)
    shutil.copytree("/usr/share/postgresql/15", rootfs / "usr/share/postgresql/15", symlinks=True)
    shutil.copytree("/usr/share/zoneinfo", rootfs / "usr/share/zoneinfo", symlinks=True)
    libraries: set[str] = set()
    for binary in (PG_HOME / "bin").iterdir():
        done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        libraries.update(w for w in done.stdout.split() if w.startswith("/"))
    for library in libraries:
        into = rootfs / library.lstrip("/")
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, into)  # follows the symlink: the library itself
    (rootfs / "etc").mkdir()
    (rootfs / "etc/passwd").write_text(
        "root:x:0:0::/:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n"
    )
    (rootfs / "etc/group").write_text("root:x:0:\npostgres:x:999:\n")
    for directory in ("var/lib/postgresql/data", "var/run/postgresql"):
        (rootfs / directory).mkdir(parents=True)
        os.chown(rootfs / directory, 999, 999)
    tag = f"localhost/seawall-test-postgres:{uuid.uuid4().hex[:10]}"
    _import(rootfs, tag, "USER postgres", f"ENV PATH={PG_HOME}/bin:/bin", 'CMD ["/bin/sh"]')
    yield tag
    _rmi(tag)


def _stack(runtime: ComposeRuntime, components: str, tmp: Path) -> StackConfig:
    """seawall.yaml beside the project's compose file, adding datastores to its services."""
    root = runtime.cli.file.parent
    (root / "seawall.yaml").write_text(
        f"stack: {runtime.project}\nruntime: compose\ncompose_file: compose.yaml\n"
        f"backup: {{repository: {tmp / 'repo'}}}\ncomponents:\n{components}"
    )
    return load_stack(root / "seawall.yaml")


def _sh(runtime: ComposeRuntime, service: str, script: str, stdin: bytes | None = None) -> bytes:
    done = runtime.exec(service, ["sh", "-c", script], stdin=stdin)
    assert done.exit_code == 0, done.stderr
    return done.stdout


FILES_COMPOSE = """
services:
  files:
    image: {tools}
    command: [sleep, "3600"]
    stop_grace_period: 1s
    volumes: ["data:/data"]
volumes:
  data: {{}}
"""
FILES_COMPONENT = """  files:
    volumes: ["data:/data"]
    datastore: {kind: files, path: /data/app, volume: data, exclude: ["*.tmp"]}
"""
SEED = (
    "mkdir -p /data/app/sub/deep && echo hello > /data/app/a.txt && chmod 640 /data/app/a.txt"
    " && ln -s a.txt /data/app/link && echo keep > /data/app/cache.tmp && touch -d '2020-01-02 03:04:05'"
    " /data/app/sub/deep && cat > /data/app/sub/blob.bin"
)


def _files_project(compose_project: MakeProject, tools: str, tmp: Path) -> tuple[StackConfig, ComposeRuntime]:
    _, runtime = compose_project(FILES_COMPOSE.format(tools=tools))
    stack = _stack(runtime, FILES_COMPONENT, tmp)
    runtime.start(["files"])
    return stack, runtime


def _digest(runtime: ComposeRuntime) -> str:
    return hashlib.sha256(_sh(runtime, "files", "cat /data/app/sub/blob.bin")).hexdigest()


@pytest.mark.engine
@pytest.mark.integration
def test_files_in_a_named_volume_back_up_and_restore_at_the_volume_mountpoint(
    compose_project: MakeProject, tools_image: str, tmp_path: Path
) -> None:
    """Files the container wrote into a named volume are backed up, wiped, restored: fingerprints equal."""
    stack, runtime = _files_project(compose_project, tools_image, tmp_path)
    blob = os.urandom(3 << 20)
    _sh(runtime, "files", SEED, stdin=blob)
    target, _ = stack_targets(stack, False)["files"]
    assert container_files.on_host(target) is not None  # the local engine's mountpoint is used

    result = create_backup(stack, components=["files"])
    assert result.ok, result.failed
    (art,) = result.artifacts
    assert "read inside the container" not in art.notes
    assert art.fingerprint["entries"] == 5  # a.txt, link, sub, sub/deep, sub/blob.bin; cache.tmp excluded

    _sh(runtime, "files", "rm -rf /data/app/a.txt /data/app/link /data/app/sub")
    done = restore(stack, component="files")
    assert done.components[0].fingerprint_ok
    assert _digest(runtime) == hashlib.sha256(blob).hexdigest()
    assert _sh(runtime, "files", "cat /data/app/link /data/app/cache.tmp") == b"hello\nkeep\n"
    assert datastore_for(target).fingerprint(target) == art.fingerprint


@pytest.mark.engine
@pytest.mark.integration
def test_the_config_artifact_records_the_images_that_ran(
    compose_project: MakeProject, tools_image: str, tmp_path: Path
) -> None:
    """The stack-config artifact names each service's image and its id, as the engine reports them."""
    stack, runtime = _files_project(compose_project, tools_image, tmp_path)
    podman = shutil.which("podman") or "podman"
    inspected = json.loads(
        subprocess.run(
            [podman, "image", "inspect", tools_image],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )[0]

    result = create_backup(stack, components=["stack-config"])
    assert result.ok, result.failed
    (art,) = result.artifacts
    images = art.position["images"]
    assert list(images) == ["files"]
    assert images["files"]["image"].endswith(tools_image.split("/", 1)[1])
    assert images["files"]["id"] == f"sha256:{inspected['Id'].removeprefix('sha256:')}"
    assert images["files"]["repo_digests"] == sorted(inspected["RepoDigests"])
    assert all("@sha256:" in d for d in images["files"]["repo_digests"])

    runtime.stop(["files"])  # a stopped container still says what it ran
    again = create_backup(stack, components=["stack-config"])
    assert again.artifacts[0].position["images"] == images


@pytest.mark.engine
@pytest.mark.integration
def test_files_in_a_named_volume_through_the_containers_tar(
    compose_project: MakeProject, tools_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the mountpoint, tar runs inside the container, streamed; the artifact equals the host's."""
    stack, runtime = _files_project(compose_project, tools_image, tmp_path)
    blob = os.urandom(2 << 20)
    _sh(runtime, "files", SEED, stdin=blob)
    target, _ = stack_targets(stack, False)["files"]
    host_fingerprint = datastore_for(target).fingerprint(target)  # at the mountpoint

    with monkeypatch.context() as patch:
        patch.setattr(container_files, "volume_mountpoint", lambda _container: None)
        assert datastore_for(target).fingerprint(target) == host_fingerprint
        result = create_backup(stack, components=["files"])
        assert result.ok, result.failed
        (art,) = result.artifacts
        assert "read inside the container" in art.notes
        assert art.fingerprint == host_fingerprint

        # changed and added files: --force takes a safety backup (through the container too) and replaces them
        _sh(
            runtime,
            "files",
            "echo changed > /data/app/a.txt && echo junk > /data/app/sub/new && rm /data/app/link",
        )
        done = restore(stack, component="files", force=True)
        assert done.components[0].fingerprint_ok
        assert "written inside the container" in done.components[0].notes
        assert done.safety_backup is not None
        assert _sh(runtime, "files", "ls /data/app/sub; cat /data/app/a.txt /data/app/cache.tmp") == (
            b"blob.bin\ndeep\nhello\nkeep\n"
        )
    assert _digest(runtime) == hashlib.sha256(blob).hexdigest()
    # read back at the mountpoint: the same tree, modes, mtimes and links as before the backup
    assert datastore_for(target).fingerprint(target) == host_fingerprint
    # and the artifact made inside the container restores into a host directory
    check = verify_backup(stack, result.id, deep=True)
    assert check.ok, check.to_dict()


def test_restore_through_a_container_refuses_hostile_members() -> None:
    """Absolute names, `..`, writes under the archive's links or excluded paths, hard links out: refused."""

    def archive(*members: tuple[str, bytes, str]) -> io.BytesIO:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data, link in members:
                info = tarfile.TarInfo(name)
                if link.startswith("sym:"):
                    info.type, info.linkname = tarfile.SYMTYPE, link[4:]
                elif link.startswith("hard:"):
                    info.type, info.linkname = tarfile.LNKTYPE, link[5:]
                info.size = len(data) if not link else 0
                tar.addfile(info, io.BytesIO(data) if not link else None)
        buf.seek(0)
        return buf

    ok = archive(("a", b"x", ""), ("d/b", b"yy", ""), ("l", b"", "sym:/etc"), ("h", b"", "hard:a"))
    out = io.BytesIO()
    reencode(ok, out, ())
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        assert [m.name for m in tar.getmembers()] == ["a", "d/b", "l", "h"]
    for hostile in (
        archive(("/abs", b"x", "")),
        archive(("../up", b"x", "")),
        archive(("l", b"", "sym:/etc"), ("l/passwd", b"x", "")),
        archive(("l", b"", "sym:/etc"), ("l", b"x", "")),
        archive(("h", b"", "hard:/etc/passwd")),
        archive(("cache.tmp/x", b"x", "")),
    ):
        with pytest.raises(HostileMember):
            reencode(hostile, io.BytesIO(), ("*.tmp",))


def test_clearing_a_container_directory_keeps_excluded_paths() -> None:
    """The top-most entries are removed, except excluded ones and the directories that hold them."""
    names = ["a", "a/x", "b", "b/c.tmp", "b/d", "b/d/e", "f.tmp", "g"]
    assert deletions(names, ("*.tmp",)) == ["a", "b/d", "g"]
    assert deletions(names, ()) == ["a", "b", "f.tmp", "g"]
    assert deletions(["only.tmp"], ("*.tmp",)) == []


@pytest.mark.engine
@pytest.mark.integration
def test_streaming_exec_passes_bytes_both_ways_and_the_exit_status(
    compose_project: MakeProject, tools_image: str
) -> None:
    """`exec_argv`'s command streams stdin and stdout unchanged and exits with the command's status."""
    _, runtime = compose_project(FILES_COMPOSE.format(tools=tools_image))
    with pytest.raises(RuntimeDriverError, match="not running"):
        runtime.exec_argv("files", ["true"])
    runtime.start(["files"])
    data = os.urandom(8 << 20)
    argv = runtime.exec_argv("files", ["cat"], interactive=True)
    done = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=120)
    assert done.returncode == 0
    assert hashlib.sha256(done.stdout).digest() == hashlib.sha256(data).digest()
    failing = runtime.exec_argv("files", ["sh", "-c", "head -c 100000 /bin/busybox; exit 3"])
    with subprocess.Popen(failing, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        assert len(proc.stdout.read()) == 100000
        assert proc.wait(timeout=60) == 3  # the pipe "succeeded"; the status says it did not


PG_COMPOSE = """
services:
  db:
    image: {image}
    command: [sh, -c, "{start}"]
    environment: {{TZ: UTC}}
    ports: ["127.0.0.1:{port}:5432"]
    stop_grace_period: 5s
    volumes: ["pgdata:/var/lib/postgresql/data"]
volumes:
  pgdata: {{}}
"""


def _wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _rows(url: str) -> list[Any]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id, body FROM items ORDER BY id").fetchall()


@pytest.mark.engine
@pytest.mark.integration
def test_postgres_in_a_container_is_dumped_and_restored_with_its_own_tools(
    compose_project: MakeProject, postgres_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pg_dump on the host, pg_dump and pg_restore run in the database's container, streamed."""
    port = free_port()
    start = PG_START.replace('"', '\\"').replace("$", "$$")
    _, runtime = compose_project(PG_COMPOSE.format(image=postgres_image, start=start, port=port))
    base = f"postgresql://postgres:secret@127.0.0.1:{port}"
    stack = _stack(runtime, f"  db:\n    datastore: {{kind: postgres, url: '{base}/shop'}}\n", tmp_path)
    runtime.start(["db"])
    _wait_for(f"{base}/postgres")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE shop")
    with psycopg.connect(f"{base}/shop") as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, body text, doc jsonb)")
        conn.execute(
            "INSERT INTO items SELECT g, md5(g::text), jsonb_build_object('g', g)"
            " FROM generate_series(1, 5000) g"
        )
    before = _rows(f"{base}/shop")
    monkeypatch.setattr(container_postgres, "host_client", lambda _name, _major: None)  # as if not installed

    result = create_backup(stack, components=["db"])
    assert result.ok, result.failed
    (art,) = result.artifacts
    assert "(in service db)" in art.tool_versions["pg_dump"]
    assert art.fingerprint["tables"]["public.items"]["rows"] == 5000

    with psycopg.connect(f"{base}/shop") as conn:
        conn.execute("DELETE FROM items WHERE id > 100")
    done = restore(stack, component="db", force=True)
    assert done.components[0].fingerprint_ok
    assert _rows(f"{base}/shop") == before
    check = verify_backup(stack, result.id, deep=True)  # pg_restore into a scratch database, in the container
    assert check.ok, check.to_dict()
