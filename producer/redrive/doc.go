// Package redrive re-publishes the documents of worker dead letters whose
// cause has since been fixed (a batch over the worker's limits, a model
// failure, a document over a raised size limit, a record that decodes as a
// batch now): `producer redrive`.
//
// Run reads the dead-letter topic from the start to its high-water mark at
// the start (queue.ReadSnapshot: a bounded read outside any consumer group,
// so a rerun sees every dead letter again and the Manifest, not a committed
// offset, says which were done), selects dead letters by reason, decodes and
// validates their documents with today's limits, batches them with
// document.Batcher and publishes them to their source topic. A dead letter
// is recorded in the Manifest once all its documents are acknowledged, so a
// second run publishes nothing again. Dead letters that cannot be redriven
// (an excerpt of a document too large to decode, a truncated value, a
// document still invalid) are reported with the cause and left in place.
package redrive
