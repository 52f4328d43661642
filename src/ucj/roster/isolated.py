"""Read roster files in a child process, so that a file can exhaust or crash only its own reading.

A native reader given a hostile workbook does not raise: python-calamine
allocates a dense grid of whatever extent a sheet claims and the allocator
aborts the process; a quote that never closes can keep the CSV reader busy
for as long as the file is long. In the task's own process either would take
every other file of the batch down with it, and the task would be retried
into the same fate. Here a child process (one per ingesting process, kept
between batches: ``shared_reader``) reads the files one after the other
under an address-space limit (``reader_memory_bytes``) and a wall-clock
limit per file (``max_read_seconds``): a file that crashes the child or runs
out of time fails alone, with a reason for the clerk, and a fresh child reads
the next one. An ``.xlsx`` whose dense reading crashes is read once more cell
by cell (``read_roster(..., sparse=True)``) before it is given up.

A plain ``subprocess`` (not ``multiprocessing``): the child must start clean,
without forking a threaded task process, and Celery's daemonic workers may
not have ``multiprocessing`` children. The child imports only the reader
(``ucj.roster.read``: python-calamine, openpyxl, the YAML vocabularies), so it
starts in a fraction of a second.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

from ucj.roster.read import RawRoster, ReadLimits, RosterReadError, read_roster

log = logging.getLogger(__name__)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_START_SECONDS = 60


class IsolatedReader:
    """``read_roster`` in a child process, as a context manager or kept by ``shared_reader``.

    The child is started on the first file and again after a file killed it,
    so files that read cleanly cost one process start between them.
    """

    def __init__(self, limits: ReadLimits | None = None) -> None:
        self.limits = limits or ReadLimits.from_config()
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self.processes_started = 0

    def __enter__(self) -> IsolatedReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def read(self, data: bytes, filename: str, kind: str) -> RawRoster:
        """The file's rows, or RosterReadError with a reason a clerk can act on."""
        with self._lock:  # one conversation with the child at a time
            return self._read_either_way(data, filename, kind)

    def _read_either_way(self, data: bytes, filename: str, kind: str) -> RawRoster:
        try:
            return self._read(data, filename, kind, sparse=False)
        except _ChildDied:
            log.warning("the reader process ended while reading %s (out of memory or crashed)", filename)
            if not (filename.lower().endswith((".xlsx", ".xlsm")) and data[:4] == b"PK\x03\x04"):
                raise RosterReadError(self._memory_reason()) from None
        # The dense grid did not fit: the sheet claims an extent far larger than what it holds.
        try:
            return self._read(data, filename, kind, sparse=True)
        except _ChildDied:
            raise RosterReadError(self._memory_reason()) from None

    def _read(self, data: bytes, filename: str, kind: str, *, sparse: bool) -> RawRoster:
        outcomes = self._exchange([(data, filename, kind, sparse)])
        if outcomes is None:
            raise RosterReadError(self._time_reason())
        ((outcome, value),) = outcomes
        if outcome == "ok":
            return value  # type: ignore[return-value]
        if outcome == "error":
            raise RosterReadError(str(value))
        raise _ChildDied

    def _exchange(self, files: list[tuple[bytes, str, str, bool]]) -> list[tuple[str, object]] | None:
        """Send files, receive one outcome each (fewer if one ran out of memory); None when time ran out."""
        send, recv = self._start()
        try:
            send.send([(filename, kind, sparse) for _, filename, kind, sparse in files])
            for data, *_ in files:
                send.send_bytes(data)
            ready = recv.poll(self.limits.max_read_seconds)
        except (BrokenPipeError, ConnectionResetError):
            self._stop()
            raise _ChildDied from None
        if not ready:
            self._stop()
            return None
        try:
            outcomes = recv.recv()
        except (EOFError, ConnectionResetError, OSError):
            self._stop()
            raise _ChildDied from None
        if outcomes[-1][0] == "memory":
            self._stop()  # out of memory: the child's state is not to be trusted with the next file
        return outcomes

    def read_many(self, files: list[tuple[bytes, str, str]]) -> list[RawRoster | RosterReadError]:
        """Each file's rows or its RosterReadError, in order; small files travel to the child in groups.

        A month is mostly small village files, and one exchange with the child
        per file would cost more than reading them. A group that crashes the
        child, runs it out of memory or out of time is read again file by
        file, so the file responsible fails alone with its own reason.
        """
        results: list[RawRoster | RosterReadError | None] = [None] * len(files)
        for group in _groups([len(data) for data, _, _ in files]):
            outcomes: list[tuple[str, object]] | None = None
            if len(group) > 1:
                with self._lock:
                    try:
                        outcomes = self._exchange([(*files[i], False) for i in group])
                    except _ChildDied:
                        outcomes = None
            for n, i in enumerate(group):
                outcome = outcomes[n] if outcomes is not None and n < len(outcomes) else None
                if outcome is not None and outcome[0] == "ok":
                    results[i] = outcome[1]  # type: ignore[assignment]
                elif outcome is not None and outcome[0] == "error":
                    results[i] = RosterReadError(str(outcome[1]))
                else:
                    try:
                        results[i] = self.read(*files[i])
                    except RosterReadError as exc:
                        results[i] = exc
        return results  # type: ignore[return-value]

    def _time_reason(self) -> str:
        return (
            f"reading the file took more than {self.limits.max_read_seconds:g} seconds, far longer than a "
            "roster needs: it is damaged or holds far more than a roster; open it, save it again as .xlsx "
            "(or split it into smaller files) and send it again"
        )

    def _memory_reason(self) -> str:
        return (
            f"reading the file stopped the reader: it needs more than {self.limits.reader_memory_bytes / 1e6:,.0f} "
            "MB of memory, or it is damaged; open it, delete empty rows and columns below and right of the "
            "roster (Ctrl+End in Excel shows the last cell), save and send again"
        )

    def _start(self) -> tuple[Connection, Connection]:
        if self._child is not None and self._child.poll() is None and self._send and self._recv:
            return self._send, self._recv
        self._stop()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env["RUST_BACKTRACE"] = "0"  # a native reader's abort says one line in the task log, not a page
        try:
            self._child = subprocess.Popen(  # noqa: S603 - this interpreter, this module, numbers
                [sys.executable, "-m", "ucj.roster.isolated", str(to_child_r), str(from_child_w),
                 str(self.limits.reader_memory_bytes)],
                pass_fds=(to_child_r, from_child_w), env=env, stdin=subprocess.DEVNULL, close_fds=True,
            )  # fmt: skip
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.processes_started += 1
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        self._send.send(self.limits)
        # Not a file's fault if the reader cannot start (a broken installation): the task fails and is retried.
        try:
            started = self._recv.poll(_START_SECONDS) and self._recv.recv() == "ready"
        except (EOFError, OSError):
            started = False
        if not started:
            code = self._child.poll()
            self._stop()
            raise RuntimeError(
                f"the roster reader process did not start (exit code {code}); its error is in the log above"
            )
        return self._send, self._recv

    def _stop(self) -> None:
        for conn in (self._send, self._recv):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        self._send = self._recv = None
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()
            self._child.wait()
            self._child = None

    def close(self) -> None:
        """End the child: closing its input lets it exit on its own; one that does not is killed."""
        if self._send is not None:
            with contextlib.suppress(OSError):
                self._send.close()
            self._send = None
        if self._child is not None:
            try:
                self._child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._child = None
        if self._recv is not None:
            self._recv.close()
            self._recv = None


_shared: IsolatedReader | None = None
_shared_lock = threading.Lock()


def shared_reader(limits: ReadLimits) -> IsolatedReader:
    """This process's reader, kept from one batch to the next (a new one when the limits change).

    A process that ingests several batches (the benchmark, the tests, a worker
    running several tasks) starts one child, not one per batch. The child ends
    with this process: on exit, or by PR_SET_PDEATHSIG if it is killed.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared.limits != limits:
            if _shared is not None:
                _shared.close()
            _shared = IsolatedReader(limits)
        return _shared


def _forget_shared() -> None:
    """A forked process must not talk to its parent's child: it starts its own when it needs one."""
    global _shared
    _shared = None


@atexit.register
def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


os.register_at_fork(after_in_child=_forget_shared)


# Files up to this size travel to the child together, up to these many files or bytes per group.
_SMALL_FILE_BYTES = 256_000
_GROUP_FILES = 64
_GROUP_BYTES = 2_000_000


def _groups(sizes: list[int]) -> list[list[int]]:
    """Indexes of ``sizes`` in order, consecutive small files together, every other file alone."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if size > _SMALL_FILE_BYTES:
            if current:
                groups.append(current)
                current, total = [], 0
            groups.append([i])
            continue
        if current and (len(current) == _GROUP_FILES or total + size > _GROUP_BYTES):
            groups.append(current)
            current, total = [], 0
        current.append(i)
        total += size
    if current:
        groups.append(current)
    return groups


class _ChildDied(Exception):
    """The child ended or ran out of memory while reading a file."""


def _limit_memory(extra_bytes: int) -> None:
    """Cap the child's address space at what it uses now plus ``extra_bytes`` (Linux; elsewhere no cap)."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as fh:
            size_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
        limit = size_kb * 1024 + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, StopIteration, ValueError):
        pass


def _die_with_parent() -> None:
    """A child left reading a bomb after its task was killed would hold a core for nothing (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(recv: Connection, send: Connection, memory_bytes: int) -> None:
    _die_with_parent()
    if os.getppid() == 1:
        return
    limits: ReadLimits = recv.recv()
    _limit_memory(memory_bytes)
    send.send("ready")
    while True:
        try:
            files = recv.recv()
            datas = [recv.recv_bytes() for _ in files]
        except EOFError:
            return
        outcomes: list[tuple[str, object]] = []
        for (filename, kind, sparse), data in zip(files, datas, strict=True):
            outcome = _read_one(data, filename, kind, limits, sparse)
            outcomes.append(outcome)
            if outcome[0] == "memory":
                break  # the rest of the group is read again, each in a fresh child
        del datas
        try:
            send.send(outcomes)
        except MemoryError:
            send.send([("memory", None)])
            return
        if outcomes[-1][0] == "memory":
            return


def _read_one(data: bytes, filename: str, kind: str, limits: ReadLimits, sparse: bool) -> tuple[str, object]:
    try:
        return ("ok", read_roster(data, filename, kind, limits, sparse=sparse))
    except RosterReadError as exc:
        return ("error", str(exc))
    except MemoryError:
        return ("memory", None)
    except Exception as exc:
        # The reader's own bug: the file fails, named by what went wrong, never by a cell's value.
        return ("error", f"the file cannot be read ({type(exc).__name__}); send it to the data team")
    except BaseException as exc:  # a Rust panic inside python-calamine is a BaseException
        return ("error", f"workbook is damaged and cannot be read ({type(exc).__name__})")


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False), int(sys.argv[3]))
