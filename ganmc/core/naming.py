"""What a model's normal classes are called in the words a user reads: MNIST's digits ("a 3",
"per-digit thresholds") or the names of the user's class folders ("taken for "sandal"",
"per-class thresholds"). No TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Names:
    """The names of a model's labels: ``classes`` (index by index) for a model of named
    classes, else None (the labels are digits and are called by their number)."""

    classes: tuple[str, ...] | None = None

    @classmethod
    def of_card(cls, card: dict[str, Any]) -> Names:
        """The names a model card's config gives (digits when it names no classes)."""
        config = card.get("config") if isinstance(card.get("config"), dict) else {}
        classes = config.get("classes")
        ok = isinstance(classes, list) and all(isinstance(c, str) for c in classes)
        return cls(tuple(classes) if ok and classes else None)

    @property
    def named(self) -> bool:
        return self.classes is not None

    @property
    def noun(self) -> str:
        """"class" or "digit"."""
        return "class" if self.named else "digit"

    @property
    def plural(self) -> str:
        """"classes" or "digits"."""
        return "classes" if self.named else "digits"

    def name(self, label: Any) -> str:
        """A label's name: the class's, or the digit itself."""
        if self.classes is not None and 0 <= int(label) < len(self.classes):
            return self.classes[int(label)]
        return str(label)

    def taken_for(self, label: Any, bold: bool = False) -> str:
        """"taken for a 3", "taken for an 8", 'taken for "sandal"'."""
        if self.named:
            shown = f"**{self.name(label)}**" if bold else f"\"{self.name(label)}\""
            return f"taken for {shown}"
        shown = f"**{label}**" if bold else str(label)
        return f"taken for {'an' if int(label) == 8 else 'a'} {shown}"

    def listed(self, labels: Any) -> str:
        """The normal labels in a few words: "all", "1,7", "sandal, sneaker"."""
        labels = list(labels or [])
        if self.named:
            return ", ".join(self.name(d) for d in labels)
        return "all" if len(labels) == 10 else ",".join(map(str, labels))
