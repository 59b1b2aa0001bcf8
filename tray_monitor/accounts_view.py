"""Several logins in one tray (issue 15): one view from each login's own view (pure).

The icon shows the binding window across the logins (the highest severity, then the highest
percent; or the login `icon_account` pins) and the tooltip names that login; when another login
has a critical window, the icon carries a mark (`IconSpec.other_critical`, a corner dot); the menu has one
section per login, a header (label · plan) and then its own lines. With one login nothing here
is used: its view is the tray's, exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from tray_monitor.model import Severity
from tray_monitor.view import IN_ICON, MAX_TOOLTIP, View

_SEVERITY_RANK: dict[Severity, int] = {"normal": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class AccountView:
    name: str
    label: str
    view: View


def header_text(section: AccountView) -> str:
    """The menu's header line for a login: "me@work.example · Max 5x"."""
    return f"{section.label} · {section.view.plan}" if section.view.plan else section.label


def binding_account(sections: list[AccountView], pinned: str | None = None) -> AccountView:
    """The login whose window the icon shows: the pinned one when it exists; else the one whose
    own icon is the most severe, then the fullest; a login with a reading beats one without."""
    for section in sections:
        if section.name == pinned:
            return section

    def weight(section: AccountView) -> tuple[int, int, float]:
        icon = section.view.icon
        has_number = icon.percent is not None
        return (int(has_number), _SEVERITY_RANK.get(icon.severity, 0), icon.percent or 0.0)

    # max() keeps the first of equals: the default login wins a tie.
    return max(sections, key=weight)


def combined_view(sections: list[AccountView], pinned: str | None = None) -> View:
    """The tray's view for several logins: the binding login's view, its tooltip naming the
    login, with every login's own view as a menu section. One login: its view, untouched."""
    if len(sections) == 1:
        return sections[0].view
    chosen = binding_account(sections, pinned)
    tooltip = _cap(f"{chosen.label}: {chosen.view.tooltip}", MAX_TOOLTIP)
    shown = tuple((header_text(s), s.view if s is chosen else _not_in_icon(s.view)) for s in sections)
    marked = any(is_critical(s.view) for s in sections if s is not chosen)
    return replace(chosen.view, tooltip=tooltip, sections=shown, icon=replace(chosen.view.icon, other_critical=marked))


def is_critical(view: View) -> bool:
    """Whether any of a login's windows is critical (`view.severity_of`: from 90 %, by
    `severity_for_percent`, or when the server says so)."""
    return any(row.severity == "critical" for row in view.windows)


def _not_in_icon(view: View) -> View:
    """A login the icon does not show: none of its windows is marked "in the icon"."""
    suffix = f" · {IN_ICON}"
    rows = tuple(replace(row, in_icon=False, menu_text=row.menu_text.removesuffix(suffix)) if row.in_icon else row
                 for row in view.windows)
    return replace(view, windows=rows)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def named_summary(label: str, summary: str) -> str:
    """A popup's title naming the login it is about, when there are several."""
    return f"{label}: {summary}"
