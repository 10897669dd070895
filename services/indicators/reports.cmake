# The reports domain of the indicators service (owned by its own files: reports_*.cpp).
add_library(indicators_reports reports_wiring.cpp)
target_include_directories(indicators_reports PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_reports PUBLIC passerelle_indicators_proto passerelle_venues_proto
                      passerelle_referential_proto passerelle_events passerelle_api
                      passerelle_clock passerelle_logging passerelle_db passerelle_server
                      passerelle_service)
passerelle_embed_sql(indicators_reports passerelle::indicators::reports
                     ${CMAKE_CURRENT_SOURCE_DIR}/migrations/reports)
passerelle_warnings(indicators_reports)
