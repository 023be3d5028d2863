"""Reading "when" out of a request: a question, a schedule phrase, or a request to act now.

Only imperative requests become plans. A question ("is it safe to stop...", "what would happen if...") is answered
with what would be affected; a schedule phrase ("at 8pm daily", "every weekday", "tonight") becomes a proposal of
what ``escher schedule add`` would store. Both are decided from the user's words alone, before any selection,
so no later step can turn them into an execution.

The pitfall handled here: "stopped" is both a state ("which instances are stopped?") and a verb ("what if I
stopped web-1?"); after a pronoun it is read as the verb, so the question is about stopping web-1. The same for
every action's past tense ("what if I restored snap-1", "what if we rolled back orders-api:live").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Mode", "When", "base_verbs", "mode_of", "when_of"]

Mode = Literal["imperative", "question", "schedule"]

_QUESTION_START = re.compile(
    r"^(?:(?:ok|okay|so|hey|hi|and|but|then|well|quick question|question)[,:]?\s+)*"
    r"(is|are|was|were|would|will|should|shall|can|could|may|might|does|did|which|what|what's|whats|how|"
    r"why|when|where|who|whom|whose|if|am|do (?:i|we|you|they|my|any|all|the))\b"
)
_QUESTION_ANYWHERE = re.compile(
    r"\bwhat (?:would|will|could|might) happen\b|\bwhat happens (?:if|when)\b|\bwhat if\b|\bis it (?:safe|ok|okay|"
    r"wise|a good idea)\b|\bwould it be\b|\bshould (?:i|we)\b|\bcan (?:i|we)\b|\bcould (?:i|we)\b|\bhow many\b|"
    r"\bhow much\b|\bam i allowed\b|\bdo (?:i|we) need to\b|\bwhich (?:ones?|of)\b|\bwhat are the (?:risks|"
    r"consequences)\b|\bimpact of\b|\bconsequences? of\b|\bsafe to\b"
)
# "can you stop web-1" is a polite request, not a question about stopping
_POLITE = re.compile(
    r"^(?:please\s+)?(?:can|could|would|will)\s+you\s+(?:please\s+)?(?!tell|show|list|explain)"
)
_VERB_FORMS = {
    "stopped": "stop", "stopping": "stop", "started": "start", "starting": "start", "deleted": "delete",
    "deleting": "delete", "removed": "remove", "removing": "remove", "terminated": "terminate",
    "terminating": "terminate", "restarted": "restart", "restarting": "restart", "rebooted": "reboot",
    "rebooting": "reboot", "resized": "resize", "resizing": "resize", "snapshotted": "snapshot",
    "snapshotting": "snapshot", "destroyed": "destroy", "destroying": "destroy", "purged": "purge",
    "shutting down": "shut down", "shut down": "shut down", "backed up": "back up", "backing up": "back up",
    "restored": "restore", "restoring": "restore", "recovered": "recover", "recovering": "recover",
    "rolled back": "roll back", "rolling back": "roll back", "reverted": "revert", "reverting": "revert",
    "swapped": "swap", "swapping": "swap", "increased": "increase", "increasing": "increase", "grew": "grow",
    "resumed": "resume", "resuming": "resume",
}  # fmt: skip
_VERB_AFTER = re.compile(
    r"\b(i|we|you|they|someone|escher|to try|about|before|after|by|of|is|would|does|if)\s+("
    + "|".join(sorted(_VERB_FORMS, key=len, reverse=True))
    + r")\b"
)

# -- schedule phrases -----------------------------------------------------------------------------------------
_DAYNAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_TIME_12 = re.compile(r"\b(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?(?![a-z])")
_TIME_24 = re.compile(r"\b(?:at\s+)?([01]?\d|2[0-3])[:h]([0-5]\d)\b")
_TIME_AT = re.compile(r"\bat\s+([01]?\d|2[0-3])(?:\s*o'?clock)?\b(?![:./-]?\d)")
_NOON = re.compile(r"\b(?:at\s+)?(noon|midday|midnight)\b")
_EVERY_DAY = re.compile(
    r"\b(daily|nightly|every ?day|each day|every night|each night|every evening|each evening|every morning|"
    r"each morning|at night|after hours|out of hours|outside (?:business|office|working) hours|"
    r"end of (?:the )?day|overnight)\b"
)
_WEEKDAYS = re.compile(r"\b(every weekday|each weekday|on weekdays|weekdays|weeknights|every work ?day|"
                       r"workdays|monday (?:to|through|-) friday|mon-fri|business days|working days)\b")  # fmt: skip
_WEEKENDS = re.compile(r"\b(every weekend|on weekends|weekends|each weekend|saturday and sunday)\b")
_DAYNAME = re.compile(r"\b(?:every|each|on)\s+(" + "|".join(_DAYNAMES) + r")s?\b")
_HOURLY = re.compile(r"\b(hourly|every hour|each hour)\b")
_WEEKLY = re.compile(r"\b(weekly|every week|each week|once a week)\b")
_MONTHLY = re.compile(r"\b(monthly|every month|each month|once a month)\b")
_ONE_OFF = re.compile(
    r"\b(tonight|tomorrow(?: morning| evening| night)?|this (?:evening|afternoon|weekend)|later today|"
    r"in (?:an|one|\d{1,3}) (?:minutes?|hours?)|next (?:week|" + "|".join(_DAYNAMES) + r"))\b"
)


@dataclass(frozen=True)
class When:
    """A schedule phrase read as a 5-field cron expression (the schedule's own time zone applies); ``cron`` is
    empty for a relative time ("in 2 hours"), which no schedule can store."""

    phrase: str
    cron: str
    recurring: bool
    described: str
    assumed_time: bool  # no time was said: 20:00 (evening phrases) or 08:00 (morning phrases) assumed


def base_verbs(low: str) -> str:
    """ "what if I stopped web-1" -> "what if i stop web-1": the verb, not the state."""
    return _VERB_AFTER.sub(lambda m: f"{m.group(1)} {_VERB_FORMS[m.group(2)]}", low)


def _time(low: str) -> tuple[int, int] | None:
    if m := _TIME_12.search(low):
        hour, minute = int(m.group(1)) % 12, int(m.group(2) or 0)
        if int(m.group(1)) <= 12 and minute < 60:
            return hour + (12 if m.group(3) == "p" else 0), minute
    if m := _TIME_24.search(low):
        return int(m.group(1)), int(m.group(2))
    if m := _NOON.search(low):
        return (0, 0) if m.group(1) == "midnight" else (12, 0)
    if m := _TIME_AT.search(low):
        return int(m.group(1)), 0
    return None


def when_of(low: str) -> When | None:
    """The schedule a request states, or None when it says nothing about when (act now)."""
    days: str | None = None
    described = ""
    phrase = ""
    recurring = True
    for pattern, dow, text in ((_WEEKDAYS, "1-5", "every weekday"), (_WEEKENDS, "0,6", "every weekend")):
        if m := pattern.search(low):
            days, described, phrase = dow, text, m.group(0)
            break
    if days is None and (m := _DAYNAME.search(low)):
        days = str(_DAYNAMES.index(m.group(1)))
        described, phrase = f"every {m.group(1).capitalize()}", m.group(0)
    hourly = _HOURLY.search(low)
    if days is None and (m := _EVERY_DAY.search(low) or _WEEKLY.search(low) or _MONTHLY.search(low)):
        phrase = m.group(0)
        if _WEEKLY.fullmatch(phrase):
            days, described = "1", "every Monday"
        elif _MONTHLY.fullmatch(phrase):
            days, described = "monthly", "on the 1st of every month"
        else:
            days, described = "*", "every day"
    if days is None and (m := _ONE_OFF.search(low)):
        if m.group(0).startswith("in "):  # "in 2 hours": relative to a now this stateless brain does not know
            return When(m.group(0), "", False, m.group(0), False)
        days, described, phrase, recurring = "*", m.group(0), m.group(0), False
    at = _time(low)
    if days is None and not hourly and at is None:
        return None
    if hourly:
        return When(hourly.group(0), "0 * * * *", True, "every hour", False)
    assumed = at is None
    if at is None:
        at = (8, 0) if "morning" in low else (20, 0)
    hour, minute = at
    if days is None:  # "stop web-1 at 8pm": a time alone means today, once
        days, described, recurring = "*", "today", False
    dom, dow = ("1", "*") if days == "monthly" else ("*", days)
    cron = f"{minute} {hour} {dom} * {dow}"
    full = f"{described} at {hour:02d}:{minute:02d}"
    return When(phrase or f"{hour:02d}:{minute:02d}", cron, recurring, full, assumed)


def mode_of(low: str) -> Mode:
    """question | schedule | imperative, from the user's words only (questions win: they never act)."""
    text = low.strip()
    polite = bool(_POLITE.match(text))
    if not polite and (
        _QUESTION_START.match(text) or _QUESTION_ANYWHERE.search(text) or text.rstrip().endswith("?")
    ):
        return "question"
    if polite and text.rstrip().endswith("?") and _QUESTION_ANYWHERE.search(text):
        return "question"
    if when_of(text) is not None:
        return "schedule"
    return "imperative"
