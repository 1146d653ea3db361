// Package document defines the unit of work of nerstream — a Document (one
// abstract or article to annotate) — and the Batch message that carries many
// documents through Kafka from the producer to the workers.
//
// The wire format is JSON, described by schemas/batch.schema.json. DecodeBatch
// is strict: unknown fields, a wrong schema_version or a batch over the size
// limits reject the whole message, while a single bad document (empty id,
// unknown op, text over MaxDocBytes, ...) is reported as a DocError naming its
// position and id, so that the consumer can dead-letter just that document and
// annotate the others.
//
// Batcher groups documents into batches bounded by count and encoded size, and
// derives a stable batch id from the source file and the record range, so that
// re-publishing the same input yields the same ids and replays are recognisable
// downstream. ScanJSONL reads the producer's JSON-lines input format.
package document
