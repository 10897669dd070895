# The coverage domain of the indicators service (owned by its own files: coverage_*.cpp).
add_library(indicators_coverage coverage_wiring.cpp)
target_include_directories(indicators_coverage PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_coverage PUBLIC passerelle_indicators_proto passerelle_venues_proto
                      passerelle_referential_proto passerelle_events passerelle_api
                      passerelle_clock passerelle_logging passerelle_db passerelle_server
                      passerelle_service)
passerelle_embed_sql(indicators_coverage passerelle::indicators::coverage
                     ${CMAKE_CURRENT_SOURCE_DIR}/migrations/coverage)
passerelle_warnings(indicators_coverage)
