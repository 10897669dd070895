#!/usr/bin/python3
"""Loads the indicators' demo data into a running local Passerelle (called by `up` after load-demo).

Usage: indicators_demo.py BUILD_DIR. Gives the demo venues referential items matching their
standard services (a fixed choice), imports the invented area layer `quartiers`
(services/venues/seed/quartiers-roubaix.geojson) into the venues service, the invented needs of
those quartiers (services/indicators/seed/needs-quartiers.csv) into the indicators service, and
the invented activity reports and equality assessments of the demo organisations
(services/indicators/seed/reports-demo.json). Loading twice changes nothing: the layer and the
needs are replaced by the same values, reports and assessments carry fixed request ids.
"""
import json
import os
import sys
import time
import unicodedata

import grpc

build_dir = sys.argv[1] if len(sys.argv) > 1 else "build"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(build_dir, "python"))
from google.protobuf import json_format  # noqa: E402
from passerelle.indicators.v1 import indicators_pb2 as pb  # noqa: E402
from passerelle.indicators.v1 import indicators_pb2_grpc as rpc  # noqa: E402
from passerelle.referential.v1 import referential_pb2 as ref_pb  # noqa: E402
from passerelle.referential.v1 import referential_pb2_grpc as ref_rpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
from passerelle.venues.v1 import venues_pb2 as venues_pb  # noqa: E402
from passerelle.venues.v1 import venues_pb2_grpc as venues_rpc  # noqa: E402

VENUES = os.environ.get("PASSERELLE_VENUES_ADDRESS", "127.0.0.1:50051")
INDICATORS = os.environ.get("PASSERELLE_INDICATORS_ADDRESS", "127.0.0.1:50054")
REFERENTIAL = os.environ.get("PASSERELLE_REFERENTIAL_ADDRESS", "127.0.0.1:50052")
LAYER_FILE = os.path.join(ROOT, "services/venues/seed/quartiers-roubaix.geojson")
NEEDS_FILE = os.path.join(ROOT, "services/indicators/seed/needs-quartiers.csv")
REPORTS_FILE = os.path.join(ROOT, "services/indicators/seed/reports-demo.json")


def connect(address):
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=30)
    return channel


def import_layer(venues):
    with open(LAYER_FILE, "rb") as f:
        layer = venues.ImportAreaLayer(venues_pb.ImportAreaLayerRequest(
            layer="quartiers", title="[EXEMPLE] Quartiers de Roubaix (contours inventés)",
            geojson=f.read()))
    print(f"  demo area layer areaLayers/quartiers: {layer.area_count} quartiers "
          f"(invented outlines), {layer.venues_updated} venues placed")
    return layer.area_count


def import_needs(coverage):
    with open(NEEDS_FILE, "rb") as f:
        csv = f.read()
    # The indicators service learns the layer from the venues service: until it has, rows
    # name unknown areas (rule `exists`). Wait for it rather than fail.
    deadline = time.time() + 60
    while True:
        answer = coverage.ImportNeeds(pb.ImportNeedsRequest(
            parent="areaLayers/quartiers", csv=csv, replace=True))
        if not answer.errors or time.time() > deadline or any(
                e.rule != "exists" for e in answer.errors):
            break
        time.sleep(0.5)
    for e in answer.errors:
        print(f"    line {e.row}: {e.field} ({e.rule}) {e.message}")
    print(f"  demo needs: {answer.areas_imported} quartiers (population, fragility index; "
          f"invented values)")
    return not answer.errors


def enum_name(label):
    """« Aide aux démarches administratives » -> AIDE_AUX_DEMARCHES_ADMINISTRATIVES."""
    folded = unicodedata.normalize("NFD", label).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "_" for c in folded).upper()


def tag_venues(venues, referential):
    """Gives each demo venue referential items, as its mediators would: among the items matching
    one of the venue's standard `services`, every third (a fixed choice), at most eight."""
    version = referential.GetVersion(ref_pb.GetVersionRequest(
        name="nomenclatures/roubaix-aptic/versions/-"))
    items = [i for level in version.levels for category in level.categories
             for i in category.items]
    tagged, token = 0, ""
    while True:
        page = venues.ListVenues(venues_pb.ListVenuesRequest(
            filter='source = "passerelle-demo"', page_size=100, page_token=token))
        for n, venue in enumerate(page.venues):
            offered = {venues_pb.Service.Name(s).removeprefix("SERVICE_") for s in venue.services}
            matching = [i.name for i in items if offered.intersection(map(enum_name, i.services))]
            chosen = sorted(matching[n % 3::3])[:8]
            if chosen and sorted(venue.referential_items) != chosen:
                venues.UpdateVenue(venues_pb.UpdateVenueRequest(
                    venue=venues_pb.Venue(name=venue.name, etag=venue.etag,
                                          referential_items=chosen),
                    update_mask=field_mask_pb2.FieldMask(paths=["referential_items"])))
            tagged += bool(chosen)
        token = page.next_page_token
        if not token:
            break
    print(f"  demo venues tagged with referential items: {tagged}")


def venue_names(venues):
    """Demo standard id (exemple-roubaix-006) -> resource name (venues/…)."""
    names, token = {}, ""
    while True:
        page = venues.ListVenues(venues_pb.ListVenuesRequest(
            filter='source = "passerelle-demo"', page_size=100, page_token=token))
        names.update({v.id: v.name for v in page.venues})
        token = page.next_page_token
        if not token:
            return names


def load_reports(reports, venues):
    if not os.path.exists(REPORTS_FILE):
        return True
    with open(REPORTS_FILE, encoding="utf-8") as f:
        seed = json.load(f)
    names = venue_names(venues)
    submitted = 0
    for item in seed.get("activity_reports", []):
        request = pb.SubmitActivityReportRequest()
        json_format.ParseDict(item["request"], request)
        request.activity_report.venues[:] = [
            names.get(v, v) for v in request.activity_report.venues]
        reports.SubmitActivityReport(request)
        submitted += 1
    assessed = 0
    for item in seed.get("equality_assessments", []):
        request = pb.SubmitEqualityAssessmentRequest()
        json_format.ParseDict(item["request"], request)
        reports.SubmitEqualityAssessment(request)
        assessed += 1
    print(f"  demo activity reports: {submitted}, equality assessments: {assessed} (invented)")
    return True


def main():
    venues = venues_rpc.VenueServiceStub(connect(VENUES))
    tag_venues(venues, ref_rpc.ReferentialServiceStub(connect(REFERENTIAL)))
    channel = connect(INDICATORS)
    coverage = rpc.CoverageServiceStub(channel)
    reports = rpc.ReportServiceStub(channel)
    import_layer(venues)
    ok = import_needs(coverage)
    ok = load_reports(reports, venues) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
