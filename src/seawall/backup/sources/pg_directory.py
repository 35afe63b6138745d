"""PostgreSQL directory format (``pg_dump --jobs``): staged on the repository's disk, carried as one tar.

A directory dump cannot stream (pg_dump writes one file per table from several workers), so it goes
to a private directory under the staging directory the engine passes, then GNU tar streams that
directory through the normal pipeline. A restore unpacks the tar there (every member checked, as a
files restore does) while ``pg_restore --jobs`` already reads it (``pg_unpack``). The default format
(custom) never comes here: it streams without a temporary file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from seawall.backup.errors import BackupError
from seawall.backup.pipeline import CHUNK
from seawall.backup.procs import Proc, find_tool
from seawall.backup.sources._head import Rest
from seawall.config.units import format_size

FORMAT = "pg_dump-directory"
CUSTOM_MAGIC = b"PGDMP"  # the first bytes of every custom-format archive
META = "seawall-dump.json"  # beside toc.dat in the tar; pg_restore ignores files it does not list


def check_space(where: Path, estimate: int) -> None:
    """BackupError unless ``where`` has room for a dump of about ``estimate`` bytes."""
    free = shutil.disk_usage(where).free
    if estimate > free:
        raise BackupError(
            f"not enough free space for a parallel (directory-format) dump in {where}:"
            f" about {format_size(estimate)} needed (the database's size), {format_size(free)} free",
            hint="free space on the repository's disk, or set the datastore's jobs to 1"
            " (the dump then streams, without temporary files)",
        )


@contextmanager
def private_dir(staging: Path, name: str) -> Iterator[Path]:
    """``staging/name``, not yet created (pg_dump wants to create it), removed on exit whatever happens."""
    path = staging / name
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def data_files(directory: Path) -> list[str]:
    """pg_dump's files other than ``toc.dat``, largest first: the order pg_restore's workers take them
    (its ready list is sorted by size), so a restore can feed them as they are unpacked."""
    sized = [(e.stat().st_size, e.name) for e in os.scandir(directory) if e.is_file()]
    return [name for _, name in sorted(sized, key=lambda f: (-f[0], f[1])) if name not in (META, "toc.dat")]


def write_meta(directory: Path, jobs: int) -> list[str]:
    """What a restore needs that pg_dump does not record: the job count, and the data files in the
    order the tar carries them (``pg_unpack``); returns those files."""
    files = data_files(directory)
    meta = {"format": FORMAT, "jobs": jobs, "files": files}
    (directory / META).write_text(json.dumps(meta) + "\n")
    return files


def read_meta(path: Path) -> dict[str, Any]:
    """What ``write_meta`` recorded in ``path`` (empty if absent or unreadable)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def recorded_jobs(meta: dict[str, Any]) -> int | None:
    """The job count in ``read_meta``'s result (None if it holds none that makes sense)."""
    jobs = meta.get("jobs")
    return jobs if isinstance(jobs, int) and jobs >= 1 else None


def tar_proc(directory: Path, files: list[str]) -> Proc:
    """GNU tar writing ``directory`` to stdout: the file list, ``toc.dat``, then ``files`` (the data,
    largest first, as ``write_meta`` listed them), so archives of equal dumps are equal and a restore
    starts pg_restore before the data is out."""
    names = [META, "toc.dat", *files]
    argv = [
        find_tool("tar"),
        "--create",
        "--file=-",
        "--format=posix",
        "--blocking-factor=128",  # 64 KiB writes into the pipe
        "--pax-option=delete=atime,delete=ctime,delete=mtime",  # the dump's own times: not data
        "--no-recursion",
        f"--directory={directory}",
        "--",  # pg_dump's names never start with "-"; this says so to tar anyway
        *names,
    ]
    return Proc(argv, stdin=subprocess.DEVNULL)


def tree_size(directory: Path) -> int:
    """Bytes in the files of a flat directory (pg_dump's)."""
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file())


def feed(rest: Rest, sink: IO[bytes], errors: list[BaseException]) -> threading.Thread:
    """Copy ``rest`` into ``sink`` (a tool's stdin) in a thread; the kernel splices pipe to pipe."""

    def run() -> None:
        try:
            with sink:
                if rest.head:
                    sink.write(rest.read())
                    sink.flush()
                if rest.fd is not None:
                    while os.splice(rest.fd, sink.fileno(), CHUNK):
                        pass
                else:
                    while chunk := rest.read(CHUNK):
                        sink.write(chunk)
        except BrokenPipeError:
            pass  # the tool stopped reading: its exit status says why
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="seawall-pg-restore-feed", daemon=True)
    thread.start()
    return thread


__all__ = [
    "CUSTOM_MAGIC",
    "FORMAT",
    "check_space",
    "data_files",
    "feed",
    "private_dir",
    "read_meta",
    "recorded_jobs",
    "tar_proc",
    "tree_size",
    "write_meta",
]
