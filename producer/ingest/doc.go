// Package ingest is the producer's engine: it reads PubMed XML or JSON-lines
// input files, groups their documents into batches (document.Batcher), and
// publishes each batch as one message through a Publisher, recording its
// progress in a Manifest so that a nightly run over a directory publishes
// only what was not published before.
//
// Resumption rests on stable batch ids. Batches are cut deterministically
// from (file, record range, batch settings); the manifest remembers, per
// input file, its size and SHA-256, the batch settings, and the last record
// index covered by an acknowledged batch. A rerun skips finished files,
// restarts a half-published file right after its last acknowledged batch
// (re-creating byte-identical batches from there), and republishes a file
// whose content changed. A batch that was sent but whose acknowledgement was
// lost is sent again with the same id, which consumers can recognise.
package ingest
