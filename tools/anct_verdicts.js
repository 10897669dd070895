// Runs rows of the national CSV through ANCT's library, the way the national cartography reads
// them, and prints each verdict. Input (stdin): a JSON array of rows, each an object of the
// standard's fields (absent fields left out, latitude/longitude as numbers). Output (stdout): a
// JSON array of {accepted, key, message} in the same order. Called by tools/anct_verdicts.py.
'use strict';
const path = require('path');
const libDir = process.env.ANCT_LIB_DIR || '/tmp/anct/node_modules';
const lib = require(path.join(libDir, '@gouvfr-anct/lieux-de-mediation-numerique'));

let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const verdicts = JSON.parse(input).map((row) => {
    try {
      lib.fromSchemaLieuDeMediationNumerique(row);
      return { accepted: true };
    } catch (e) {
      return { accepted: false, key: e.key || null, message: e.message };
    }
  });
  process.stdout.write(JSON.stringify(verdicts));
});
