"""A job's progress as a person reads it: partitions done of those known, objects listed while
listing runs, bytes and their rate, partitions per second, and the time left once the total is
known. Drawn with tqdm where it is installed, else as one line of its own on stderr."""

import sys
import time

_EVERY = 0.25  # seconds between two drawings: 4 a second while the job runs


class Snapshot:
    """What the job reports to its progress display."""

    __slots__ = ("done", "known", "listing", "objects", "bytes_done", "bytes_known", "elapsed")

    def __init__(self, done, known, listing, objects, bytes_done, bytes_known, elapsed):
        self.done, self.known, self.listing, self.objects = done, known, listing, objects
        self.bytes_done, self.bytes_known, self.elapsed = bytes_done, bytes_known, elapsed

    def eta(self):
        """Seconds left (by bytes when the partitions carry some, else by partitions); None while
        listing runs or before anything finished."""
        if self.listing or self.done == 0 or self.elapsed <= 0:
            return None
        if self.bytes_known > 0 and self.bytes_done > 0:
            return (self.bytes_known - self.bytes_done) / (self.bytes_done / self.elapsed)
        return (self.known - self.done) / (self.done / self.elapsed)

    def describe(self):
        """The numbers after the bar: bytes, MB/s, partitions/s, listing or ETA."""
        elapsed = max(self.elapsed, 1e-9)
        parts = [f"{_size(self.bytes_done)}", f"{self.bytes_done / elapsed / 1e6:.1f} MB/s",
                 f"{self.done / elapsed:.1f} part/s"]
        if self.listing:
            parts.append(f"listing: {self.objects:,} objects so far")
        else:
            eta = self.eta()
            if eta is not None:
                parts.append(f"ETA {_clock(eta)}")
        return ", ".join(parts)


def _size(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _clock(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _TqdmDisplay:
    def __init__(self, tqdm):
        self._bar = tqdm(total=0, unit="part", desc="quarry", dynamic_ncols=True)

    def draw(self, snap):
        self._bar.total = snap.known
        self._bar.n = snap.done
        self._bar.set_postfix_str(snap.describe(), refresh=False)
        self._bar.refresh()

    def close(self):
        self._bar.close()


class _LineDisplay:
    """Without tqdm: one line redrawn in place on a terminal, else a line every few seconds."""

    def __init__(self, stream):
        self._stream = stream
        self._tty = stream.isatty()
        self._last_line = 0.0
        self._width = 0

    def draw(self, snap, final=False):
        if not self._tty and not final and time.monotonic() - self._last_line < 5:
            return
        self._last_line = time.monotonic()
        known = f"{snap.known:,}" + ("+" if snap.listing else "")
        text = f"quarry: {snap.done:,}/{known} partitions, {snap.describe()}"
        if self._tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self._stream.write("\r" + text + " " * pad)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def close(self):
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


class _CallbackDisplay:
    def __init__(self, callback):
        self._callback = callback

    def draw(self, snap):
        self._callback(snap)

    def close(self):
        pass


class Progress:
    """Draws a job's snapshots at most every _EVERY seconds (and the last one on close)."""

    def __init__(self, display):
        self._display = display
        self._drawn = 0.0
        self._last = None

    @classmethod
    def make(cls, progress, stream=None):
        """None when `progress` is off (None: on when stderr is a terminal); tqdm when it is
        installed (progress="plain" asks for the plain line); a callable is given each
        Snapshot instead."""
        if callable(progress):
            return cls(_CallbackDisplay(progress))
        stream = stream if stream is not None else sys.stderr
        if progress is None:
            progress = stream.isatty()
        if not progress:
            return None
        if progress != "plain":
            try:
                from tqdm.auto import tqdm
                return cls(_TqdmDisplay(tqdm))
            except ImportError:
                pass
        return cls(_LineDisplay(stream))

    def update(self, snap):
        self._last = snap
        now = time.monotonic()
        if now - self._drawn >= _EVERY:
            self._drawn = now
            self._display.draw(snap)

    def close(self, snap=None):
        snap = snap or self._last
        if snap is not None:
            if isinstance(self._display, _LineDisplay):
                self._display.draw(snap, final=True)
            else:
                self._display.draw(snap)
        self._display.close()
