# The coverage domain of the indicators service (owned by its own files: coverage_*.cpp).
# Pure parts (model, needs file) apart, so unit tests and the benchmark link no server.
add_library(indicators_coverage_core coverage_model.cpp coverage_needs.cpp)
target_include_directories(indicators_coverage_core PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_coverage_core PUBLIC passerelle_venues_proto passerelle_standard
                      passerelle_api passerelle_csv passerelle_text)
passerelle_warnings(indicators_coverage_core)

add_library(indicators_coverage coverage_wiring.cpp coverage.cpp coverage_store.cpp
            coverage_clients.cpp coverage_handler.cpp)
target_include_directories(indicators_coverage PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_coverage PUBLIC indicators_coverage_core
                      indicators_referential_client passerelle_indicators_proto
                      passerelle_venues_proto passerelle_referential_proto passerelle_events
                      passerelle_api passerelle_clock passerelle_logging passerelle_db
                      passerelle_server passerelle_service nlohmann_json::nlohmann_json
                      prometheus-cpp::core)
passerelle_embed_sql(indicators_coverage passerelle::indicators::coverage
                     ${CMAKE_CURRENT_SOURCE_DIR}/migrations/coverage)
passerelle_warnings(indicators_coverage)

# The model against brute force, hours on the reference week, the replacement rule, needs files.
passerelle_test(NAME indicators_coverage_test TIER unit SOURCES coverage_test.cpp
                LIBS indicators_coverage_core)

# The read model against PostgreSQL + PostGIS with fake upstream services: rebuilt == kept,
# replays and redeliveries change nothing, centres inside their areas, poison payloads refused.
passerelle_test(NAME indicators_coverage_pgtest TIER pg SOURCES coverage_pgtest.cpp
                LIBS indicators_coverage passerelle_testing)

# The real binaries (indicators and venues) over gRPC with NATS: events to figures, needs, gaps,
# exports read by ogrinfo, a rebuild that agrees, replays, poison events, hostile requests.
passerelle_test(NAME indicators_coverage_itest TIER itest SOURCES coverage_itest.cpp
                LIBS passerelle_testing passerelle_indicators_proto passerelle_venues_proto
                     passerelle_referential_proto google_rpc_proto passerelle_events
                     nlohmann_json::nlohmann_json)
add_dependencies(indicators_coverage_itest passerelle-indicators passerelle-venues
                 passerelle-referential)
