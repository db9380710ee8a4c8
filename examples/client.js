#!/usr/bin/env node
// client.js - the counter API of countfs from Node.js, with nothing but fs.
//
//     $ examples/client.js MOUNTPOINT
//     views of n1: 3 (a retried event id counts once)
//     views of n1 in the last minute: 3
//     watch_ms of n1: count 2, avg 450
//     batch of 500 events recorded; n2 now has 250 views
'use strict';
const fs = require('fs');
const path = require('path');

class Counters {
  constructor(mount) { this.mount = mount; }

  // One write() per call (appendFileSync opens with O_APPEND): the
  // event is recorded when it returns, or it throws (EINVAL: a bad line).
  append(rel, line) { fs.appendFileSync(path.join(this.mount, rel), line); }
  read(rel) { return fs.readFileSync(path.join(this.mount, rel), 'utf8').trim(); }

  countView(video, id) { this.append(`videos/${video}/views`, id ? `#${id}\n` : '\n'); }
  countEvent(video, type, value) {
    this.append(`videos/${video}/events/${type}/count`, `${value}\n`);
  }
  processEvents(events) { // [[video, type, value], ...] in one write()
    this.append('ingest', events.map(e => e.join(' ') + '\n').join(''));
  }
  views(video) { return Number(this.read(`videos/${video}/views`)); }
  viewsBetween(video, start, end) {
    return Number(this.read(`videos/${video}/range/${start}-${end}`));
  }
  aggregate(video, type, what) { return this.read(`videos/${video}/events/${type}/${what}`); }
}

const mount = process.argv[2];
if (!mount) {
  console.error('usage: client.js MOUNTPOINT');
  process.exit(2);
}
const c = new Counters(mount);
const now = Math.floor(Date.now() / 1000);
c.countView('n1');
c.countView('n1', 'req-1');
c.countView('n1', 'req-1'); // a retry: acknowledged, not counted again
c.countView('n1');
console.log(`views of n1: ${c.views('n1')} (a retried event id counts once)`);
console.log(`views of n1 in the last minute: ${c.viewsBetween('n1', now - 60, now + 60)}`);
c.countEvent('n1', 'watch_ms', 300);
c.countEvent('n1', 'watch_ms', 600);
console.log(`watch_ms of n1: count ${c.aggregate('n1', 'watch_ms', 'count')}, ` +
            `avg ${c.aggregate('n1', 'watch_ms', 'avg')}`);
const batch = [];
for (let i = 0; i < 500; i++) batch.push([i % 2 ? 'n2' : 'n3', 'views']);
c.processEvents(batch);
console.log(`batch of 500 events recorded; n2 now has ${c.views('n2')} views`);
try {
  c.countEvent('n1', 'watch_ms', 'not-a-number');
} catch (e) {
  if (e.code !== 'EINVAL') throw e;
}
