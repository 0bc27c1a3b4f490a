"""What a removal did: the shared shape of teardown and sweep reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RemovalReport:
    """What was deleted, what failed, what is left, and notes for the user."""

    deleted: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    leftovers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing is left and no step failed."""
        return not self.errors and not self.leftovers


@dataclass
class TeardownReport(RemovalReport):
    """What teardown removed, what was already gone, and what is left."""

    missing: list[dict] = field(default_factory=list)

    def merge(self, other: "TeardownReport") -> None:
        """Add ``other``'s findings to this report."""
        for name in ("deleted", "missing", "errors", "leftovers", "notes"):
            getattr(self, name).extend(getattr(other, name))

    def summary(self) -> str:
        """One line: what was deleted, what is left."""
        deleted = ", ".join(f"{d['kind']} {d['id']}" for d in self.deleted) or "nothing"
        tail = f"; LEFT: {self.leftovers}" if self.leftovers else ""
        errors = f"; errors: {self.errors}" if self.errors else ""
        return f"deleted {deleted}{tail}{errors}"

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"deleted": self.deleted, "missing": self.missing, "errors": self.errors,
                "leftovers": self.leftovers, "notes": self.notes, "clean": self.clean}
