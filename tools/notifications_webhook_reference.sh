#!/usr/bin/env bash
# Checks our webhook signatures with the Standard Webhooks specification's reference library
# (npm `standardwebhooks`), which CI cannot install (Debian packages only): run it by hand when
# the signer changes. It installs the library in a throw-away directory under /tmp, verifies
# every case of services/notifications/testdata/webhook_fixture.json (written by our signer,
# build/services/notifications/notifications-sign-fixture) with each of its secrets, checks
# that a wrong secret is refused, and records the verdicts next to the fixture. The unit test
# notifications_test checks that our signer still reproduces the fixture.
#
# Usage: tools/notifications_webhook_reference.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixture=$root/services/notifications/testdata/webhook_fixture.json
verdicts=$root/services/notifications/testdata/webhook_reference_verdicts.json
work=$(mktemp -d /tmp/notifications-reference.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund standardwebhooks@1 >/dev/null
version=$(node -p 'require("standardwebhooks/package.json").version')
FIXTURE=$fixture VERSION=$version node - >"$verdicts.tmp" <<'JS'
const fs = require("fs");
const { Webhook } = require("standardwebhooks");
const fixture = JSON.parse(fs.readFileSync(process.env.FIXTURE, "utf8"));
const out = { library: `standardwebhooks@${process.env.VERSION}`, cases: [] };
let failed = 0;
for (const c of fixture.cases) {
  const headers = {
    "webhook-id": c.id,
    "webhook-timestamp": String(c.timestamp),
    "webhook-signature": c.signature,
  };
  const verdict = { id: c.id, accepted_with: [], refused_with_wrong_secret: false };
  for (const secret of c.secrets) {
    // The fixture's timestamps are old: verify against a clock set to them.
    const wh = new Webhook(secret);
    const realNow = Date.now;
    Date.now = () => c.timestamp * 1000;
    try {
      wh.verify(c.body, headers);
      verdict.accepted_with.push(secret);
    } catch (e) {
      verdict.error = String(e.message || e);
      failed++;
    } finally {
      Date.now = realNow;
    }
  }
  const wrong = new Webhook("whsec_" + Buffer.alloc(24, 7).toString("base64"));
  const realNow = Date.now;
  Date.now = () => c.timestamp * 1000;
  try {
    wrong.verify(c.body, headers);
    failed++;
  } catch (e) {
    verdict.refused_with_wrong_secret = true;
  } finally {
    Date.now = realNow;
  }
  out.cases.push(verdict);
}
out.all_verified = failed === 0;
console.log(JSON.stringify(out, null, 2));
process.exit(failed === 0 ? 0 : 1);
JS
mv "$verdicts.tmp" "$verdicts"
echo "standardwebhooks@$version verified every case: $verdicts"
