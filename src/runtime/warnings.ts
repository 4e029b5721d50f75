// kafkajs 2.2.4 sets timers with a negative delay on every connection, which Node 24 reports as a
// TimeoutNegativeWarning per connection (tulios/kafkajs#1751, fixed in no release). It is harmless
// (Node uses 1 ms, as the code intends), so that one warning is dropped; all others still print.
// The rapflow command, the benchmarks and the tests all use kafkajs (the stack's probes do), so
// each of them calls this once at start.
export function dropKafkajsTimerWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`(node:${process.pid}) ${w.name}: ${w.message}\n`);
  });
}
