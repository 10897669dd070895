#!/usr/bin/env node
// Records what the reference opening_hours implementation (npm `opening_hours`, country `fr`)
// answers for every string of tests/interop/opening_hours_corpus.txt at every instant below,
// into tests/interop/opening_hours_reference.json (read by standard_opening_hours_interop_test).
// Run through tools/opening_hours_reference.sh, which installs the library in a scratch
// directory outside the repository. Also: `extract <test.js>` prints the value strings of the
// library's own test file (one JSON string per line), the source of the corpus' upstream part.
'use strict';
const fs = require('fs');
const path = require('path');

if (process.env.TZ !== 'Europe/Paris') {
  console.error('run with TZ=Europe/Paris (the instants are Paris local times)');
  process.exit(2);
}

// Parses the JavaScript string literal starting at s[i] (quote ' or "); returns [value, next].
function literal(s, i) {
  const q = s[i];
  let out = '';
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j];
    if (c === q) return [out, j + 1];
    if (c === '\\') {
      const n = s[++j];
      if (n === 'n') out += '\n';
      else if (n === 't') out += '\t';
      else if (n === 'u') { out += String.fromCharCode(parseInt(s.substr(j + 1, 4), 16)); j += 4; }
      else out += n;
    } else {
      out += c;
    }
  }
  throw new Error('unterminated literal at ' + i);
}

// The string elements of the first argument array (or string) after each test.add*( call.
function extract(file) {
  const src = fs.readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/mg, '');
  const found = new Set();
  const call = /test\.(addTest|addShouldWarn|addShouldFail)\(/g;
  let m;
  while ((m = call.exec(src))) {
    let i = m.index + m[0].length;
    // Skip the description literal and the comma after it.
    while (/\s/.test(src[i])) i++;
    if (src[i] !== "'" && src[i] !== '"') continue;
    i = literal(src, i)[1];
    while (/[\s,]/.test(src[i])) i++;
    if (src[i] === "'" || src[i] === '"') {
      found.add(literal(src, i)[0]);
      continue;
    }
    if (src[i] !== '[') continue;
    i++;
    // Elements: literals, or ignored('value', ...) whose first literal is the value.
    let depth = 0;
    let expectValue = true;
    for (; i < src.length; i++) {
      const c = src[i];
      if (c === "'" || c === '"') {
        const [v, next] = literal(src, i);
        if (expectValue) found.add(v);
        expectValue = false;
        i = next - 1;
      } else if (c === '(' || c === '[' || c === '{') {
        depth++;
      } else if (c === ')' || c === '}') {
        depth--;
      } else if (c === ']') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) {
        expectValue = true;
      } else if (c === '/' && src[i + 1] === '/') {
        while (src[i] !== '\n') i++;
      } else if (/[A-Za-z_]/.test(c) && depth === 0) {
        // ignored( ... ): its first literal is still the value; other identifiers are not.
        const id = /^[A-Za-z_][A-Za-z_0-9.]*/.exec(src.slice(i))[0];
        if (id !== 'ignored') expectValue = false;
        i += id.length - 1;
      }
    }
  }
  for (const v of found) console.log(JSON.stringify(v));
}

// Paris local instants: every 2026 public holiday, a plain week, nights, both DST changes,
// July and August, Christmas to New Year, nth weekdays and ISO week 53.
function instants() {
  const out = [];
  const add = (day, ...times) => { for (const t of times) out.push(`${day}T${t}`); };
  for (const d of ['2026-01-01', '2026-04-06', '2026-05-01', '2026-05-08', '2026-05-14',
                   '2026-05-25', '2026-07-14', '2026-08-15', '2026-11-01', '2026-11-11',
                   '2026-12-25']) {
    add(d, '10:00', '15:00');
  }
  add('2026-04-03', '10:00');  // Good Friday: a holiday in Alsace-Moselle only
  add('2026-04-05', '10:00');  // Easter Sunday
  add('2026-05-24', '10:00');  // Whit Sunday
  add('2026-12-26', '10:00');  // Saint-Étienne: Alsace-Moselle only
  add('2027-01-01', '10:00');
  for (const d of ['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27',
                   '2026-11-28', '2026-11-29']) {
    add(d, '08:30', '10:00', '12:30', '15:00', '18:45', '23:30');
  }
  add('2026-11-24', '01:00');
  add('2026-11-28', '01:30', '03:00');
  add('2026-11-29', '01:00', '03:00', '05:30');
  add('2026-11-30', '00:30', '01:30', '10:00');
  // Spring forward (29 March, 02:00 -> 03:00) and fall back (25 October, 03:00 -> 02:00). The
  // first hour of 30 March is left out: the reference shifts dates by 24 hours, not one day, to
  // find yesterday's rules, and lands on the 28th then (docs/venues.md).
  add('2026-03-28', '23:30');
  add('2026-03-29', '01:30', '03:30', '10:00', '22:30');
  add('2026-03-30', '01:30', '10:00');
  add('2026-10-24', '23:30');
  add('2026-10-25', '01:30', '02:30', '03:30', '10:00', '22:30');
  add('2026-10-26', '00:30', '10:00');
  for (const d of ['2026-06-30', '2026-07-01', '2026-07-06', '2026-07-15', '2026-07-25',
                   '2026-08-03', '2026-08-17', '2026-08-29', '2026-08-31', '2026-09-01']) {
    add(d, '10:00', '16:00');
  }
  add('2026-07-18', '23:30');
  add('2026-07-19', '01:00');
  for (const d of ['2026-12-23', '2026-12-24', '2026-12-31', '2027-01-02', '2027-01-03',
                   '2027-01-04']) {
    add(d, '10:00', '16:00');
  }
  add('2026-12-28', '10:00');  // ISO week 53
  add('2026-01-05', '10:00');  // week 2
  add('2026-01-12', '10:00');  // week 3
  add('2026-02-28', '10:00');  // last Saturday of February
  add('2026-11-02', '10:00');  // first Monday
  add('2026-11-09', '10:00');
  add('2026-11-16', '10:00');
  add('2026-03-02', '10:00');
  return out;
}

function record(corpusFile, outFile) {
  const OpeningHours = require('opening_hours');
  const version = require('opening_hours/package.json').version;
  const nominatim = {address: {country_code: 'fr'}};
  const local = instants();
  const dates = local.map((s) => new Date(s));  // local time: TZ=Europe/Paris
  const lines = fs.readFileSync(corpusFile, 'utf8').split('\n');
  const cases = [];
  const seen = new Set();
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const value = JSON.parse(line);
    if (seen.has(value)) continue;
    seen.add(value);
    let states = null;
    try {
      const oh = new OpeningHours(value, nominatim);
      states = dates.map((d) => (oh.getUnknown(d) ? 'u' : oh.getState(d) ? 'o' : 'c')).join('');
    } catch (e) {
      states = null;  // refused (at parse or at evaluation)
    }
    cases.push({value, states});
  }
  const doc = {
    reference: `opening_hours ${version}`,
    options: nominatim,
    time_zone: 'Europe/Paris',
    instants: local.map((s, i) => ({local: s, unix: Math.floor(dates[i].getTime() / 1000)})),
    cases,
  };
  fs.writeFileSync(outFile, JSON.stringify(doc, null, 1) + '\n');
  const accepted = cases.filter((c) => c.states !== null).length;
  console.log(`${cases.length} strings x ${local.length} instants; the reference accepts ${accepted}`);
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'extract') {
  extract(a);
} else if (cmd === 'record') {
  record(a, b);
} else {
  console.error('usage: opening_hours_reference.js extract <test.js> | record <corpus> <out.json>');
  process.exit(2);
}
