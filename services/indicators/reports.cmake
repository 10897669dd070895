# The reports domain of the indicators service (owned by its own files: reports_*.cpp,
# suppression.*).

# Small-count protection and cell-key perturbation: pure, shared by every published figure.
add_library(indicators_suppression suppression.cpp linear_program.cpp perturbation.cpp)
target_include_directories(indicators_suppression PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_suppression PUBLIC absl::strings)
passerelle_warnings(indicators_suppression)

# The pure rules: report validation, breakdowns, the equality grid (embedded).
add_library(indicators_reports_rules reports_validation.cpp reports_breakdown.cpp
            reports_equality.cpp reports_export.cpp)
target_include_directories(indicators_reports_rules PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_reports_rules PUBLIC indicators_suppression
                      passerelle_indicators_proto passerelle_api passerelle_csv passerelle_text
                      nlohmann_json::nlohmann_json)
passerelle_embed_text(indicators_reports_rules passerelle::indicators::reports EqualityGridJson
                      ${CMAKE_CURRENT_SOURCE_DIR}/data/equality-grid.json)
passerelle_warnings(indicators_reports_rules)

# Store, domain, venues client, gRPC handler and wiring.
add_library(indicators_reports reports_store.cpp reports_service.cpp reports_clients.cpp
            reports_handler.cpp reports_wiring.cpp)
target_include_directories(indicators_reports PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_reports PUBLIC indicators_reports_rules
                      indicators_referential_client passerelle_indicators_proto passerelle_venues_proto
                      passerelle_referential_proto passerelle_events passerelle_api
                      passerelle_clock passerelle_logging passerelle_db passerelle_outbox
                      passerelle_server passerelle_service)
passerelle_embed_sql(indicators_reports passerelle::indicators::reports
                     ${CMAKE_CURRENT_SOURCE_DIR}/migrations/reports)
passerelle_warnings(indicators_reports)

# Crafted tables (sum-of-others attack, small margins, k) and random tables checked by linear
# algebra: no hidden count can be derived.
passerelle_test(NAME indicators_suppression_test TIER unit SOURCES suppression_test.cpp
                LIBS indicators_suppression)

# Validation (a report that does not add up names the cell), breakdowns, the equality grid.
passerelle_test(NAME indicators_reports_test TIER unit SOURCES reports_test.cpp
                LIBS indicators_reports_rules)
target_compile_definitions(indicators_reports_test PRIVATE
                           PASSERELLE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# The store (and the domain over it, venues and the referential faked) against PostgreSQL:
# revisions, request ids (retries, races, reuse), stale etags, withdrawal.
passerelle_test(NAME indicators_reports_pgtest TIER pg SOURCES reports_pgtest.cpp
                LIBS indicators_reports passerelle_testing)

# ReportService through gRPC with the real venues and referential binaries, PostgreSQL and NATS.
passerelle_test(NAME indicators_reports_itest TIER itest COST 17 SOURCES reports_itest.cpp
                LIBS passerelle_testing passerelle_indicators_proto passerelle_venues_proto
                     google_rpc_proto passerelle_events)
add_dependencies(indicators_reports_itest passerelle-indicators passerelle-venues
                 passerelle-referential)
