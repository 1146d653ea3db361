// Package export turns the worker's Parquet output into PubTator or BioC
// documents: the current state of every document, by the rule of docs/operations.md
// and schemas/chunks.md — a tombstone withdraws a document for good,
// otherwise the message with the highest (doc_version, kafka_partition,
// kafka_offset) wins, and only that message's rows are the document.
//
// It streams with bounded memory: a first pass over the files keeps one
// small winner record per document (marker rows only), a second pass reads
// one file at a time and writes each winning document as soon as its rows
// are read. With [WithShards] n, each of n rounds handles the documents whose
// id hashes to that round, so the winner table holds 1/n of the documents
// (at the cost of n+1 reads of the files).
package export
