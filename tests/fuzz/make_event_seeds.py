#!/usr/bin/python3
"""Writes the event target's seed corpus (corpus/event/): binary passerelle.events.v1.Event
envelopes with each payload consumers expect, and broken ones. Run it again when an event
proto changes:

  mkdir -p /tmp/pb && protoc -Iproto -I/usr/include --python_out=/tmp/pb \\
      $(cd proto && ls passerelle/*/v1/*.proto)
  PYTHONPATH=/tmp/pb /usr/bin/python3 tests/fuzz/make_event_seeds.py
"""
import os

from passerelle.events.v1 import event_pb2
from passerelle.referential.v1 import events_pb2 as ref_events
from passerelle.sync.v1 import events_pb2 as sync_events, sync_pb2
from passerelle.venues.v1 import events_pb2 as venues_events, venues_pb2

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "event")
os.makedirs(OUT, exist_ok=True)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def event(name, type_, subject, payload=None, source="venues", raw_any=None):
    e = event_pb2.Event(id="0f8fad5b-d9cb-469f-a165-70867728950e", type=type_, source=source,
                        subject=subject, trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    e.occurred_time.seconds = 1796000000
    e.occurred_time.nanos = 123000
    if payload is not None:
        e.payload.Pack(payload)
    if raw_any is not None:
        e.payload.type_url, e.payload.value = raw_any
    write(name, e.SerializeToString())


venue = venues_pb2.Venue(
    name="venues/7d4c", id="exemple-roubaix-001", pivot="99999000000001",
    nom="[EXEMPLE] Tiers-lieu numérique Alma", commune="Roubaix", code_postal="59100",
    adresse="27 avenue Jean Lebas", latitude=50.694166, longitude=-3.164604,
    typologie=["TIERS_LIEUX", "ASSO"], telephone="+33320527672",
    courriels=["a@exemple.invalid", "b@exemple.invalid"],
    horaires="Mo-Fr 09:00-12:00,14:00-17:30; PH off", date_maj="2026-08-25",
    services=[1, 2, 5], frais_a_charge=[3], itinerance=[2],
    presentation_detail="Ligne 1\nLigne 2, « guillemets »", referential_items=["items/apt-01"],
    accepts_aptic_pass=True, state=1, etag='W/"3"')
event("venue_created", "venue.created", "venues/7d4c", venues_events.VenueCreated(venue=venue))
event("venue_updated", "venue.updated", "venues/7d4c",
      venues_events.VenueUpdated(venue=venue, changed_fields=["nom", "horaires"]))
event("venue_withdrawn", "venue.withdrawn", "venues/7d4c",
      venues_events.VenueWithdrawn(name="venues/7d4c", reason="Fermé définitivement"))
published = ref_events.VersionPublished(
    version="nomenclatures/roubaix/versions/2023-02-03",
    previous_version="nomenclatures/roubaix/versions/2022-01-01",
    items_added=["items/a"], items_retired=["items/b"], items_renamed=["items/c"],
    items_moved=["items/d"],
    code_mapping=[ref_events.CodeMapping(old_code="A1", item="items/a", new_code="A2"),
                  ref_events.CodeMapping(old_code="B1", item="items/b")],
    proposals_applied=["nomenclatures/roubaix/proposals/12"])
event("version_published", "referential.version.published",
      "nomenclatures/roubaix/versions/2023-02-03", published, source="referential")
run = sync_pb2.Run(name="sources/demo/runs/12", state=2, trigger=1, file_bytes=123456, rows=60,
                   skipped=2, created=58)
run.start_time.seconds = 1796000000
event("run_completed", "sync.run.completed", "sources/demo/runs/12",
      sync_events.RunCompleted(run=run), source="sync")
event("no_payload", "venue.created", "venues/x")
event("wrong_payload_type", "venue.created", "venues/x", published)
event("unknown_type_url", "venue.created", "venues/x",
      raw_any=("type.googleapis.com/passerelle.venues.v1.Nope", b"\x0a\x03abc"))
event("garbage_payload", "venue.created", "venues/x",
      raw_any=("type.googleapis.com/passerelle.venues.v1.VenueCreated", b"\x0a\xff\xff\xff\xff\x0f"))
event("bad_enum_numbers", "venue.created", "venues/x",
      venues_events.VenueCreated(venue=venues_pb2.Venue(services=[0, 99, -1], itinerance=[7])))
write("empty", b"")
write("json_not_proto", b'{"id":"x","type":"venue.created"}')
# A string field twice (the last wins) and unknown fields of several wire types.
write("unknown_fields", b"\x0a\x01a\x0a\x01b\xa2\x06\x03xyz\xf8\x07\x01")
