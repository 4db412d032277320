"""The entry list (CEB711) joins many clearances: it goes out once every list in it is declared."""

from __future__ import annotations

from saga_story import EBP, Story, waybill_no

ENTRY = "3105960005:ENTRY0001"
FIRST, SECOND = f"{EBP}:DEMO00000001", f"{EBP}:DEMO00000002"


def _declared_up_to_list(story: Story, key: str) -> None:
    for what in ("order", "payment", "waybill", "list"):
        story.declare(what, key=key)
    for what in ("order", "payment", "waybill"):
        story.customs_accepts(what, key=key)


def _declare_entry(story: Story, *keys: str) -> None:
    story.declare("entry", key=ENTRY, clearance_keys=list(keys), logistics_nos=[waybill_no(k) for k in keys])


def test_entry_list_waits_for_the_list_of_every_waybill_in_it() -> None:
    story = Story()
    _declared_up_to_list(story, FIRST)
    _declared_up_to_list(story, SECOND)
    story.customs("list", 2, 120, key=FIRST)
    _declare_entry(story, FIRST, SECOND)
    assert story.held_for("entry", key=ENTRY) == f"waiting for the list of waybill {waybill_no(SECOND)}"
    assert not story.released("entry", key=ENTRY)
    story.customs("list", 2, 120, key=SECOND)
    assert story.released("entry", key=ENTRY)
    assert len(story.commands("ReleaseDocument", "entry")) == 1


def test_entry_list_declared_after_all_its_lists_goes_out_at_once() -> None:
    story = Story()
    _declared_up_to_list(story, FIRST)
    story.customs("list", 2, 120, key=FIRST)
    _declare_entry(story, FIRST)
    assert story.released("entry", key=ENTRY)


def test_entry_list_declared_before_its_waybills_waits_for_them() -> None:
    story = Story()
    story.declare("entry", key=ENTRY, clearance_keys=[], logistics_nos=[waybill_no(FIRST), waybill_no(SECOND)])
    assert not story.released("entry", key=ENTRY)
    _declared_up_to_list(story, FIRST)
    story.customs("list", 2, 120, key=FIRST)
    assert not story.released("entry", key=ENTRY)
    _declared_up_to_list(story, SECOND)
    story.customs("list", 2, 120, key=SECOND)
    assert story.released("entry", key=ENTRY)


def test_an_entry_list_naming_no_waybill_is_never_released() -> None:
    story = Story()
    story.declare("entry", key=ENTRY, clearance_keys=[], logistics_nos=[])
    assert story.held_for("entry", key=ENTRY) == "waiting for its waybills"


def test_a_list_at_status_2_does_not_release_the_entry_list_at_the_default_gate() -> None:
    story = Story()
    _declared_up_to_list(story, FIRST)
    _declare_entry(story, FIRST)
    story.customs("list", 2, key=FIRST)
    assert not story.released("entry", key=ENTRY)
    assert story.saga.view(FIRST)["documents"]["inventory"]["status"] == "declaring at e-port (2)"
