// The venues store against the real PostgreSQL the test command started: the change feed that
// keeps every replica's search index current.
#include <algorithm>

#include "gtest/gtest.h"
#include "libs/db/listener.hpp"
#include "libs/db/migrations.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/testing/testing.hpp"
#include "services/venues/store.hpp"

namespace passerelle::venues {
std::vector<db::Migration> Migrations();
namespace {

class ChangeFeedTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MigrateSchema({outbox::OutboxComponent(), {"venues", Migrations()}}).ok());
  }

  standard::Venue Make(const std::string& source_id) {
    standard::Venue v;
    v.source = "test";
    v.source_id = source_id;
    v.standard = {
        {"nom", {"Médiathèque " + source_id}}, {"latitude", {"50.69"}}, {"longitude", {"3.17"}}};
    return v;
  }

  static bool Has(const Repository::Changes& c, const std::string& id, int revision) {
    return std::any_of(c.venues.begin(), c.venues.end(), [&](const standard::Venue& v) {
      return v.id == id && v.revision == revision;
    });
  }

  events::Topology topology_{.subject_prefix = "feedtest"};
  EventFactory event_ = [](const standard::Venue& v, const std::vector<std::string>&) {
    events::v1::Event e;
    e.set_type("venue.test");
    e.set_id(v.id);
    e.set_subject(v.Name());
    return e;
  };
};

TEST_F(ChangeFeedTest, IdleRegistryReadsNothingAndLateCommitsAreNotMissed) {
  PgStore store(pool(), topology_);
  auto a = store.Insert(Make("a"), event_, {});
  ASSERT_TRUE(a.ok()) << a.status();

  auto first = store.ChangedSince({});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(Has(*first, a->id, 1));
  // Nothing written since: the next reads bring nothing, however often they run.
  auto idle = store.ChangedSince(first->cursor);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->venues.empty()) << idle->venues.size() << " venues read again";
  idle = store.ChangedSince(idle->cursor);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->venues.empty());

  // A transaction that writes before a read and commits after it (so its row's update_time is
  // older than what the read saw) is still found by the read after.
  auto other = NewPool(1);
  auto lease = other->Acquire();
  ASSERT_TRUE(lease.ok());
  pqxx::work late(**lease);
  late.exec_params("UPDATE \"" + schema() +
                       "\".venues SET revision = revision + 1, "
                       "update_time = now() WHERE id = $1::uuid",
                   a->id);
  auto b = store.Insert(Make("b"), event_, {});  // commits while `late` is open
  ASSERT_TRUE(b.ok());
  auto during = store.ChangedSince(idle->cursor);
  ASSERT_TRUE(during.ok());
  EXPECT_TRUE(Has(*during, b->id, 1));
  EXPECT_FALSE(Has(*during, a->id, 2)) << "an uncommitted write was read";
  late.commit();
  auto after = store.ChangedSince(during->cursor);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(Has(*after, a->id, 2)) << "the late commit was missed";
  auto settled = store.ChangedSince(after->cursor);
  ASSERT_TRUE(settled.ok());
  EXPECT_TRUE(settled->venues.empty());
}

// What lets other replicas follow a write as it commits instead of at their next poll.
TEST_F(ChangeFeedTest, EveryWriteOfVenuesNotifiesTheSchemaChannelAtCommit) {
  using Wake = db::Listener::Wake;
  using std::chrono::milliseconds;
  db::Listener listener(testing::DatabaseUrl(), schema());
  ASSERT_EQ(listener.Wait(milliseconds(300)), Wake::kTimeout);
  ASSERT_TRUE(listener.listening());
  PgStore store(pool(), topology_);
  auto a = store.Insert(Make("a"), event_, {});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(listener.Wait(milliseconds(5000)), Wake::kNotified) << "insert";
  auto other = NewPool(1);
  auto lease = other->Acquire();
  ASSERT_TRUE(lease.ok());
  {
    pqxx::work tx(**lease);
    tx.exec_params(
        "UPDATE \"" + schema() + "\".venues SET revision = revision + 1 WHERE id = $1::uuid",
        a->id);
    EXPECT_EQ(listener.Wait(milliseconds(200)), Wake::kTimeout) << "before the commit";
    tx.commit();
  }
  EXPECT_EQ(listener.Wait(milliseconds(5000)), Wake::kNotified) << "update";
}

TEST_F(ChangeFeedTest, ALongTransactionElsewhereDoesNotMakeReadsRepeat) {
  PgStore store(pool(), topology_);
  // Another session holds a transaction open (a backup, a slow report): the oldest running
  // transaction stays behind every write that follows.
  auto other = NewPool(1);
  auto lease = other->Acquire();
  ASSERT_TRUE(lease.ok());
  pqxx::work long_running(**lease);
  long_running.exec1("SELECT pg_current_xact_id()");
  auto start = store.ChangedSince({});
  ASSERT_TRUE(start.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto v = store.Insert(Make("w" + std::to_string(i)), event_, {});
    ASSERT_TRUE(v.ok());
    ids.push_back(v->id);
  }
  auto read = store.ChangedSince(start->cursor);
  ASSERT_TRUE(read.ok());
  for (const auto& id : ids) EXPECT_TRUE(Has(*read, id, 1));
  for (int i = 0; i < 3; ++i) {
    read = store.ChangedSince(read->cursor);
    ASSERT_TRUE(read.ok());
    EXPECT_TRUE(read->venues.empty()) << read->venues.size() << " venues read again";
  }
  long_running.commit();
}

TEST_F(ChangeFeedTest, RevisionsTheReaderHoldsAreLeftOutButTheCursorMovesOn) {
  PgStore store(pool(), topology_);
  auto start = store.ChangedSince({});
  ASSERT_TRUE(start.ok());
  auto a = store.Insert(Make("held"), event_, {});
  auto b = store.Insert(Make("new"), event_, {});
  ASSERT_TRUE(a.ok() && b.ok());
  // The reader holds `a` at revision 1 (its own write), not `b`.
  std::vector<std::pair<std::string, int>> asked;
  auto known = [&](const std::string& id, int revision) {
    asked.emplace_back(id, revision);
    return id == a->id && revision <= 1;
  };
  auto read = store.ChangedSince(start->cursor, known);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(Has(*read, a->id, 1));
  ASSERT_TRUE(Has(*read, b->id, 1));
  ASSERT_EQ(read->venues.size(), 1u);
  EXPECT_EQ(read->venues[0].standard.at("nom").front(), "Médiathèque new") << "the whole record";
  EXPECT_EQ(asked.size(), 2u);
  // Written again, `a` has a revision the reader does not hold: it comes back, once.
  auto other = NewPool(1);
  auto lease = other->Acquire();
  ASSERT_TRUE(lease.ok());
  {
    pqxx::work w(**lease);
    w.exec_params(
        "UPDATE \"" + schema() + "\".venues SET revision = revision + 1 WHERE id = $1::uuid",
        a->id);
    w.commit();
  }
  auto again = store.ChangedSince(read->cursor, known);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(Has(*again, a->id, 2));
  EXPECT_FALSE(Has(*again, b->id, 1)) << "the cursor did not move past what was left out";
  auto settled = store.ChangedSince(again->cursor, known);
  ASSERT_TRUE(settled.ok());
  EXPECT_TRUE(settled->venues.empty());
}

}  // namespace
}  // namespace passerelle::venues
