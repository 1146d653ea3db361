// Independent PubTator reader for the round-trip test of internal/formats:
// reads PubTator from stdin (blocks of "ID|t|title", "ID|a|abstract" and
// "ID\tbegin\tend\tmention\ttype[\tid]" lines, blank-line separated) and
// prints one JSON object per document: {id, title, abstract, annotations:
// [{begin, end, text, type, id}]}. Offsets are checked against
// title + " " + abstract, counted in code points.
'use strict';
const lines = require('fs').readFileSync(0, 'utf8').split('\n');
let doc = null;
const out = [];
const flush = () => { if (doc) out.push(doc); doc = null; };
for (const line of lines) {
  if (line === '') { flush(); continue; }
  let m = /^([^|\t]+)\|([ta])\|(.*)$/.exec(line);
  if (m) {
    if (!doc) doc = { id: m[1], title: '', abstract: '', annotations: [] };
    if (m[2] === 't') doc.title = m[3]; else doc.abstract = m[3];
    continue;
  }
  const f = line.split('\t');
  if (f.length < 5) { console.error('bad line: ' + line); process.exit(1); }
  if (!doc) doc = { id: f[0], title: '', abstract: '', annotations: [] };
  if (f[0] !== doc.id) { console.error('id ' + f[0] + ' inside document ' + doc.id); process.exit(1); }
  const a = { begin: +f[1], end: +f[2], text: f[3], type: f[4], id: f[5] || '' };
  if (doc.title !== '' || doc.abstract !== '') {
    const cps = Array.from(doc.title + ' ' + doc.abstract);
    const got = cps.slice(a.begin, a.end).join('');
    if (got !== a.text) { console.error(`${doc.id}: [${a.begin},${a.end}) is ${JSON.stringify(got)}, mention ${JSON.stringify(a.text)}`); process.exit(1); }
  }
  doc.annotations.push(a);
}
flush();
for (const d of out) console.log(JSON.stringify(d));
