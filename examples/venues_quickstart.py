#!/usr/bin/python3
"""Quick start for partner platforms: the venues API from Python (Debian's python3-grpcio).

    deploy/local/passerelle up --detach
    PYTHONPATH=build/python /usr/bin/python3 examples/venues_quickstart.py [127.0.0.1:50051]

Searches the venues near Roubaix's town hall, pages through them, updates one with its etag
(and shows what a stale etag gets), then shows how an invalid venue is explained field by
field. The test command runs this script against a real service (tests/e2e/venues_e2e.py).
"""
import sys

import grpc
from google.protobuf import field_mask_pb2

from google.rpc import error_details_pb2, status_pb2
from passerelle.venues.v1 import venues_pb2 as pb
from passerelle.venues.v1 import venues_pb2_grpc as rpc


def bad_request(error):
    """The google.rpc.BadRequest of a failed call: one field violation per problem."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    found = error_details_pb2.BadRequest()
                    detail.Unpack(found)
                    return found.field_violations
    return []


def main(address):
    stub = rpc.VenueServiceStub(grpc.insecure_channel(address))

    # 1. Around a point, nearest first, one page at a time.
    request = pb.SearchVenuesRequest(
        near=pb.Circle(latitude=50.6942, longitude=3.1746, radius_meters=3000), page_size=5)
    page = stub.SearchVenues(request, timeout=5)
    print(f"{page.total_size} venues within 3 km")
    for match in page.results:
        print(f"  {match.distance_meters:6.0f} m  {match.venue.nom}  ({match.venue.name})")
    if page.next_page_token:
        request.page_token = page.next_page_token
        following = stub.SearchVenues(request, timeout=5)
        print(f"next page: {len(following.results)} more")
    if not page.results:
        return 1

    # 2. Update one field; the etag says which version we read.
    venue = stub.GetVenue(pb.GetVenueRequest(name=page.results[0].venue.name), timeout=5)
    updated = stub.UpdateVenue(pb.UpdateVenueRequest(
        venue=pb.Venue(name=venue.name, etag=venue.etag, telephone="03 20 66 46 00"),
        update_mask=field_mask_pb2.FieldMask(paths=["telephone"])), timeout=5)
    print(f"updated {updated.name}: telephone {updated.telephone}, etag {updated.etag}")
    try:  # the etag we read before our own update is now stale
        stub.UpdateVenue(pb.UpdateVenueRequest(
            venue=pb.Venue(name=venue.name, etag=venue.etag, telephone="03 20 66 46 01"),
            update_mask=field_mask_pb2.FieldMask(paths=["telephone"])), timeout=5)
        return 1
    except grpc.RpcError as e:
        print(f"stale etag: {e.code().name} ({e.details()})")

    # 3. An invalid venue: every problem named, with its field.
    try:
        stub.CreateVenue(pb.CreateVenueRequest(
            venue=pb.Venue(nom="Essai", code_postal="591", latitude=50.69)), timeout=5)
        return 1
    except grpc.RpcError as e:
        print(f"invalid venue: {e.code().name}")
        violations = bad_request(e)
        for v in violations:
            print(f"  {v.field}: {v.description}")
        return 0 if violations else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"))
