// Package stream is the body of `worker run`: it turns the records of the
// partitions a consumer-group member owns into Parquet files on object
// storage, exactly once.
//
// # Data path
//
// Records of every owned partition are decoded (package document), their
// documents fed to one shared annotator (so windows of many messages and
// partitions fill each [B,128] batch), and the results are routed to a
// per-partition open file. Finished files go to an uploader; the Kafka
// commit (through the partition's queue.Partition handle) follows the upload.
//
// The annotator is a small interface ([Annotator]: *ner.Annotator in
// production, a fake in most tests). The worker sends typed entries through
// it with ner.Ordered: each document of a record, then an end-of-record
// marker, and idle-check markers carrying a fresh high-water mark. Ordered
// guarantees that entries come out in the order they went in, so a record's
// marker follows all of its documents and the dispatcher never needs to
// match results to records. Documents still queued for a partition that was
// revoked are kept from the model (ner.SkipIf): a worker that lost its
// partitions stops annotating them within the documents the annotator
// already holds.
//
// # Exactly once
//
// Storage is the truth. When a partition is assigned, the worker resumes
// after the highest end offset found in its whole files (sink.Store.LastOffset
// does not count an empty or cut-short object);
// Kafka commits only serve lag monitoring and the start of a fresh model.
// A file's boundaries are a function of the records alone, so any worker that
// processes the same offsets cuts the same files with the same keys:
//
//   - a file starts at the first offset after the previous file;
//   - it ends after FlushRecords records or FlushBytes bytes of record values;
//   - it ends before a record whose timestamp falls in a later FlushInterval
//     bucket (floor(timestamp / FlushInterval)) than the file's first record.
//
// An idle partition's last file is closed once the worker has proved, at a
// time t past the end of the file's bucket plus IdleGrace, that the file
// holds every record of the partition: it reads t, then asks the broker for
// the high-water mark, and closes only if the file ends just before it. Any
// record after the file was produced after t, so it carries a later timestamp
// and starts a new file for every worker: the cut is the one a worker that saw
// that later record would make. A stale view (a fetch answered before a long
// pause) never closes a file, because the fresh high-water mark would show
// the records it missed. (This
// holds when record timestamps do not run backwards by more than IdleGrace:
// always with LogAppendTime, and with CreateTime as long as producers' clocks
// agree to within the grace.)
//
// A worker that loses a partition while paused (a zombie) and later uploads
// writes a key that the new owner writes too, with the same rows — an
// overwrite, not a duplicate. A worker killed at any moment loses only
// files not yet uploaded; their records are read again by the next owner.
// Uploads of one partition happen in order and a failed upload (after the
// store's retries) stops the worker, so a later file can never hide a missing
// earlier one. On shutdown the worker uploads every file whose boundary is
// final and drops a partially filled one (its boundary would not be
// reproducible); the next owner reads those records again.
//
// Model outputs must be a function of the record alone for the rows to be
// reproducible: `worker run` packs the sentences of one record's documents
// together (ner.PackRecord, the default: each record ends with a marker that
// closes its packing group) or each document alone (ner.PackDocument), never
// across records, whose neighbours depend on batching and timing.
//
// # Bad input
//
// A record that is not a valid batch message goes to the dead-letter topic
// as a whole; a batch with some invalid documents has just those documents
// dead-lettered (with the batch id and document index in the headers) and
// the rest annotated. Neither stops the worker, and the record's offset is
// covered by the next file as usual.
package stream
