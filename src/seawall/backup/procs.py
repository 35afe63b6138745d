"""External tools in pipelines: found on PATH, stderr kept, every exit status checked."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Any

from seawall.backup.errors import BackupError
from seawall.errors import ToolMissingError
from seawall.probes.redact import redact

_STDERR_TAIL = 1500
_LINE = 500  # of a kept stderr line: enough for any message, never a whole echoed blob
_CHUNK = 1 << 20
_LIVE: set[Proc] = set()  # every tool this process runs, for kill_all
_LIVE_LOCK = threading.Lock()


def kill_all() -> int:
    """SIGKILL every tool still running; how many were. For Ctrl-C: they run in sessions of
    their own (a terminal's signal must not kill a dump halfway through its cleanup), so an
    interrupted backup has to end them itself."""
    with _LIVE_LOCK:
        live = [p for p in _LIVE if p.popen.poll() is None]
    for proc in live:
        with contextlib.suppress(ProcessLookupError):
            proc.popen.kill()
    return len(live)


def find_tool(*names: str) -> str:
    """The first of ``names`` found on PATH (ToolMissingError naming all of them)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ToolMissingError(
        f"{' or '.join(names)} is not installed",
        hint="install the client tools of this datastore (e.g. apt-get install postgresql-client)",
    )


def run_tool(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, secrets: tuple[str, ...] = ()
) -> str:
    """Run to completion; stdout as text, BackupError with stderr if it fails."""
    with Proc(argv, env=env, secrets=secrets, stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.finish()
    return out.decode(errors="replace")


class Proc:
    """A child process whose stderr goes to a temporary file (no pipe to deadlock on)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: Any = None,
        stdout: Any = subprocess.PIPE,
        secrets: tuple[str, ...] = (),
        keep: re.Pattern[bytes] | None = None,
    ) -> None:
        """``keep``: only stderr lines that start with a match are reported, for a tool that writes
        data there too (the mysql client echoes the failing statement, row values and all)."""
        self.name = os.path.basename(argv[0])
        self.secrets = secrets
        self.keep = keep
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        full_env = {**os.environ, **env} if env is not None else None
        try:
            self.popen = subprocess.Popen(
                list(argv), stdin=stdin, stdout=stdout, stderr=self._err, env=full_env, start_new_session=True
            )
        except OSError as exc:
            self._err.close()
            raise ToolMissingError(f"cannot run {self.name}: {exc.strerror}") from exc
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def stdout(self) -> IO[bytes] | None:
        """The child's stdout when it was piped."""
        return self.popen.stdout

    def stderr_text(self) -> str:
        """The end of what the child wrote to stderr (the kept lines only), secrets masked."""
        if self.keep is not None:
            text = b"\n".join(self._kept_lines())[-_STDERR_TAIL:]
        else:
            self._err.seek(0, os.SEEK_END)
            self._err.seek(max(0, self._err.tell() - _STDERR_TAIL))
            text = self._err.read()
        return redact(text.decode(errors="replace").strip(), self.secrets)

    def _kept_lines(self) -> list[bytes]:
        """The starts of the stderr lines ``keep`` matches, read in chunks (a line may be gigabytes)."""
        assert self.keep is not None
        self._err.seek(0)
        kept: list[bytes] = []
        head = b""  # the first _LINE bytes of the line being read
        while chunk := self._err.read(_CHUNK):
            *ended, rest = chunk.split(b"\n")
            for part in ended:
                head += part[: _LINE - len(head)]
                if self.keep.match(head):
                    kept.append(head)
                head = b""
            head += rest[: _LINE - len(head)]
        if self.keep.match(head):
            kept.append(head)
        return kept

    def finish(self, timeout: float | None = None) -> str:
        """Wait; BackupError with the stderr tail unless the exit status is 0. Returns stderr."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            raise BackupError(f"{self.name} did not finish within {timeout:g}s") from exc
        text = self.stderr_text()
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise BackupError(f"{self.name} {how}: {text or 'no message'}")
        return text

    def kill(self) -> None:
        """SIGKILL the child if it still runs, and reap it."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
        self.popen.wait()

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._err.close()
