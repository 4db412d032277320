"""The entry list (CEB711) joins many clearances: it goes out once every list in it is declared."""

from __future__ import annotations

from saga_story import EBP, Story

ENTRY = "3105960005:ENTRY0001"


def _declared_up_to_list(story: Story, key: str) -> None:
    for what in ("order", "payment", "waybill", "list"):
        story.declare(what, key=key)
    for what in ("order", "payment", "waybill"):
        story.customs_accepts(what, key=key)


def test_entry_list_waits_for_the_list_of_every_clearance_in_it() -> None:
    story = Story()
    first, second = f"{EBP}:DEMO00000001", f"{EBP}:DEMO00000002"
    _declared_up_to_list(story, first)
    _declared_up_to_list(story, second)
    story.customs("list", 2, 120, key=first)
    story.declare("entry", key=ENTRY, clearanceKeys=[first, second], logisticsNos=["L1", "L2"])
    assert story.status_of("entry", key=ENTRY) == f"held: waiting for the list of {second}"
    assert not story.released("entry", key=ENTRY)
    story.customs("list", 2, 120, key=second)
    assert story.released("entry", key=ENTRY)
    assert len(story.commands("ReleaseDocument", "entry")) == 1


def test_entry_list_declared_after_all_its_lists_goes_out_at_once() -> None:
    story = Story()
    only = f"{EBP}:DEMO00000003"
    _declared_up_to_list(story, only)
    story.customs("list", 2, 120, key=only)
    story.declare("entry", key=ENTRY, clearanceKeys=[only], logisticsNos=["L3"])
    assert story.released("entry", key=ENTRY)


def test_a_list_at_status_2_does_not_release_the_entry_list_at_the_default_gate() -> None:
    story = Story()
    only = f"{EBP}:DEMO00000004"
    _declared_up_to_list(story, only)
    story.declare("entry", key=ENTRY, clearanceKeys=[only], logisticsNos=["L4"])
    story.customs("list", 2, key=only)
    assert not story.released("entry", key=ENTRY)
    assert story.saga.view(only)["documents"]["inventory"]["status"] == "declaring at e-port (2)"
