"""A one-line text progress bar for the CLI's long steps (training, simulation)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """A one-line text progress bar on stderr (redrawn in place when stderr is a terminal)."""

    def __init__(self, label: str, stream=None, width: int = 28):
        # stderr as it is now, not as it was when this module was imported
        self.label, self.width = label, width
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()
        self._last = ""
        self._last_t = 0.0
        self._what, self._since, self._done0 = "", 0.0, 0

    def update(self, fraction: float, text: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self.tty and now - self._last_t < 2.0:
            return  # in logs, a line every 2 s is enough
        self._last_t = now
        filled = int(round(self.width * min(max(fraction, 0.0), 1.0)))
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] " \
               f"{100 * fraction:5.1f}% {text}"
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self._last)))
        else:
            self.stream.write(line + "\n")
        self._last = line
        self.stream.flush()

    def simulation(self, r) -> None:
        """Progress of a Monte Carlo run."""
        self.update(r.n / r.n_target, f"{r.n:,}/{r.n_target:,} {r.pace:,.0f} samples/s",
                    force=r.done)

    def counted(self, what: str, done: int, total: int) -> None:
        """Progress of ``done`` of ``total`` items of one kind (the score being computed),
        with the rate and the time left, counted from this kind's first report."""
        from ganmc.nets.tracker import eta_text

        now = time.monotonic()
        if what != self._what:  # its first chunk starts the clock
            self.close()
            self._what, self._since, self._done0 = what, now, done
        rate = (done - self._done0) / max(now - self._since, 1e-9)
        left = (total - done) / rate if rate > 0 else float("inf")
        self.update(done / max(total, 1), f"{what}: {done:,}/{total:,} images, "
                    f"{rate:,.0f}/s, ETA {eta_text(left)}", force=done >= total)

    def close(self) -> None:
        """End the bar's line (once, however often it is called)."""
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()
        self._last = ""
